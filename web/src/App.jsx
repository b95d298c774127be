import { useEffect, useRef } from 'react';
import { Link, Redirect, matchPath, useRouter } from './router.jsx';
import { useSession } from './session.jsx';
import ConnectionIndicator from './components/ConnectionIndicator.jsx';
import Toasts from './components/Toasts.jsx';
import ErrorBoundary from './components/ErrorBoundary.jsx';
import Portal from './pages/Portal.jsx';
import People from './pages/People.jsx';
import Chats from './pages/Chats.jsx';
import Conversation from './pages/Conversation.jsx';
import { displayName } from './format.js';

const ROUTES = [
    { path: '/portal', page: Portal, open: true },
    { path: '/people', page: People },
    { path: '/chats', page: Chats },
    { path: '/chats/:id', page: Conversation },
];

function resolve(path) {
    for (const r of ROUTES) {
        const params = matchPath(r.path, path);
        if (params) return { route: r, params };
    }
    return null;
}

function Header() {
    const { loggedIn, me, signOut } = useSession();
    const { path, navigate } = useRouter();
    const nav = (to, label) => (
        <Link
            to={to}
            className="nav-link"
            aria-current={path === to || path.startsWith(`${to}/`) ? 'page' : undefined}
            data-testid={`nav-${label.toLowerCase()}`}
        >
            {label}
        </Link>
    );
    const logout = async () => {
        await signOut();
        navigate('/portal', { replace: true });
    };
    return (
        <header className="topbar">
            <Link to={loggedIn ? '/chats' : '/portal'} className="brand">
                roost
            </Link>
            {loggedIn && (
                <nav aria-label="Main" className="nav">
                    {nav('/people', 'People')}
                    {nav('/chats', 'Chats')}
                </nav>
            )}
            <div className="topbar-end">
                <ConnectionIndicator />
                {loggedIn && (
                    <>
                        {me && (
                            <span className="whoami" data-testid="whoami" title={`@${me.username}`}>
                                {displayName(me)}
                            </span>
                        )}
                        <button type="button" className="btn btn-small btn-ghost" onClick={logout} data-testid="logout">
                            Log out
                        </button>
                    </>
                )}
            </div>
        </header>
    );
}

function NotFound() {
    return (
        <div className="page">
            <h1>Not found</h1>
            <p>
                There is nothing at this address. <Link to="/">Go home</Link>.
            </p>
        </div>
    );
}

export default function App() {
    const { path } = useRouter();
    const { loggedIn } = useSession();
    const mainRef = useRef(null);
    const first = useRef(true);

    // Move focus to the new page for keyboard and screen-reader users (not on first load).
    useEffect(() => {
        if (first.current) {
            first.current = false;
            return;
        }
        const h = mainRef.current && mainRef.current.querySelector('h1');
        if (h) {
            h.setAttribute('tabindex', '-1');
            h.focus({ preventScroll: true });
        }
    }, [path]);

    let content;
    if (path === '/') content = <Redirect to={loggedIn ? '/chats' : '/portal'} />;
    else {
        const hit = resolve(path);
        if (!hit) content = <NotFound />;
        else if (!hit.route.open && !loggedIn) content = <Redirect to="/portal" />;
        else {
            const Page = hit.route.page;
            content = <Page key={hit.route.path === '/chats/:id' ? hit.params.id : hit.route.path} params={hit.params} />;
        }
    }

    return (
        <>
            <a className="skip-link" href="#main">
                Skip to content
            </a>
            <Header />
            <main id="main" ref={mainRef} tabIndex={-1}>
                <ErrorBoundary key={path}>{content}</ErrorBoundary>
            </main>
            <Toasts />
        </>
    );
}
