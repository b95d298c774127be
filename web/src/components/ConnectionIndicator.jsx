import { RECONNECT_ATTEMPTS, useSession } from '../session.jsx';

/** Connected / reconnecting (attempt n of 5) / offline with a Retry button. */
export default function ConnectionIndicator() {
    const { conn, retry } = useSession();
    let label;
    if (conn.state === 'connected') label = 'Connected';
    else if (conn.state === 'reconnecting')
        label = conn.attempt > 0 ? `Reconnecting (attempt ${conn.attempt} of ${RECONNECT_ATTEMPTS})` : 'Reconnecting…';
    else if (conn.state === 'offline') label = 'Offline';
    else label = 'Connecting…';
    return (
        <div className={`conn conn-${conn.state}`} data-testid="conn" data-state={conn.state}>
            <span className="conn-dot" aria-hidden="true" />
            <span role="status" aria-live="polite" data-testid="conn-status">
                {label}
            </span>
            {conn.state === 'offline' && (
                <button type="button" className="btn btn-small" onClick={retry} data-testid="conn-retry">
                    Retry
                </button>
            )}
        </div>
    );
}
