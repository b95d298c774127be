import { createRoot } from 'react-dom/client';
import { Router } from './router.jsx';
import { SessionProvider } from './session.jsx';
import App from './App.jsx';
import './styles.css';

createRoot(document.getElementById('root')).render(
    <SessionProvider>
        <Router>
            <App />
        </Router>
    </SessionProvider>,
);
