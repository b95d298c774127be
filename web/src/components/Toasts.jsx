import { useSession } from '../session.jsx';

export default function Toasts() {
    const { toasts, dismissToast } = useSession();
    return (
        <div className="toasts" role="status" aria-live="polite" aria-atomic="false">
            {toasts.map((t) => (
                <div key={t.id} className={`toast toast-${t.kind}`} data-testid="toast">
                    <span>{t.text}</span>
                    <button
                        type="button"
                        className="toast-close"
                        aria-label="Dismiss notification"
                        onClick={() => dismissToast(t.id)}
                    >
                        ×
                    </button>
                </div>
            ))}
        </div>
    );
}
