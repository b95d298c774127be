import { useCallback, useEffect, useRef, useState } from 'react';
import { Link } from '../router.jsx';
import { useSession, useSocketEvent } from '../session.jsx';
import { CHATROOM_SUMMARY, errorText, gql } from '../graphql.js';
import Avatar from '../components/Avatar.jsx';
import { chatTitle, displayName, fullTime, shortTime } from '../format.js';

const PAGE = 20;
const CHATROOMS = `query Chatrooms($first: Int, $after: String) {
  chatrooms(first: $first, after: $after) {
    nodes { ${CHATROOM_SUMMARY} }
    pageInfo { hasNextPage endCursor }
  }
}`;

function activity(room) {
    return (room.lastMessage && room.lastMessage.createdAt) || room.createdAt || '';
}

/** Insert or replace `room`, keeping the list most-recent first. */
export function upsertRoom(nodes, room) {
    const old = nodes.find((r) => r.id === room.id);
    const merged = old ? { ...old, ...room } : { createdAt: new Date().toISOString(), ...room };
    const rest = nodes.filter((r) => r.id !== room.id);
    const at = activity(merged);
    const i = rest.findIndex((r) => activity(r) <= at);
    if (i < 0) return [...rest, merged];
    return [...rest.slice(0, i), merged, ...rest.slice(i)];
}

function ChatItem({ room, meId }) {
    const other = room.kind === 'GROUP' ? null : (room.members || []).find((m) => m.id !== meId);
    const title = chatTitle(room, meId);
    const last = room.lastMessage;
    const unread = room.unreadCount || 0;
    const preview = last ? `${last.sender && last.sender.id === meId ? 'You: ' : ''}${last.text}` : 'No messages yet';
    return (
        <li data-testid="chat-item" data-chat-id={room.id} className={unread ? 'unread' : undefined}>
            <Link
                to={`/chats/${encodeURIComponent(room.id)}`}
                className="row row-link"
                aria-label={`${title}${unread ? `, ${unread} unread` : ''}${last ? `: ${displayName(last.sender)} said ${last.text}` : ''}`}
            >
                <Avatar user={other || { id: room.id, displayName: title }} />
                <div className="row-main">
                    <div className="row-title">
                        <span className="name" data-testid="chat-title">
                            {title}
                        </span>
                        {last && (
                            <time className="muted small" dateTime={last.createdAt} title={fullTime(last.createdAt)}>
                                {shortTime(last.createdAt)}
                            </time>
                        )}
                    </div>
                    <div className="row-sub">
                        <span className="preview muted" data-testid="chat-preview">
                            {preview}
                        </span>
                        {unread > 0 && (
                            <span className="badge" data-testid="unread-badge" data-count={unread}>
                                {unread > 99 ? '99+' : unread}
                            </span>
                        )}
                    </div>
                </div>
            </Link>
        </li>
    );
}

export default function Chats() {
    const { me, authed } = useSession();
    const [list, setList] = useState({ nodes: [], pageInfo: { hasNextPage: false, endCursor: null } });
    const [loading, setLoading] = useState(true);
    const [error, setError] = useState('');
    const seq = useRef(0);

    useEffect(() => {
        document.title = 'Chats · roost';
    }, []);

    const load = useCallback(async (after) => {
        const n = ++seq.current;
        setLoading(true);
        setError('');
        try {
            const d = await gql(CHATROOMS, { first: PAGE, after: after || null });
            if (n !== seq.current) return;
            setList((prev) => {
                if (!after) {
                    // Keep live updates that raced the first page.
                    let nodes = d.chatrooms.nodes;
                    for (const r of prev.nodes) if (!nodes.some((x) => x.id === r.id)) nodes = upsertRoom(nodes, r);
                    return { nodes, pageInfo: d.chatrooms.pageInfo };
                }
                let nodes = prev.nodes;
                for (const r of d.chatrooms.nodes) if (!nodes.some((x) => x.id === r.id)) nodes = [...nodes, r];
                return { nodes, pageInfo: d.chatrooms.pageInfo };
            });
        } catch (e) {
            if (n === seq.current) setError(errorText(e));
        } finally {
            if (n === seq.current) setLoading(false);
        }
    }, []);

    // Load, and reload once the socket session is (re)established: updates may have been missed.
    const ready = authed === true;
    useEffect(() => {
        load(null);
    }, [load, ready]);

    useSocketEvent('updatedChat', (p) => {
        const room = p && p.chatroom;
        if (!room || !room.id) return;
        setList((l) => ({ ...l, nodes: upsertRoom(l.nodes, room) }));
    });

    const meId = me && me.id;
    const totalUnread = list.nodes.reduce((n, r) => n + (r.unreadCount || 0), 0);
    return (
        <div className="page">
            <h1>
                Chats
                {totalUnread > 0 && <span className="sr-only">, {totalUnread} unread</span>}
            </h1>
            {error && (
                <p className="form-error" role="alert" data-testid="chats-error">
                    {error}
                </p>
            )}
            <ul className="list" aria-label="Chatrooms" aria-busy={loading} data-testid="chat-list">
                {list.nodes.map((r) => (
                    <ChatItem key={r.id} room={r} meId={meId} />
                ))}
            </ul>
            {!loading && !error && list.nodes.length === 0 && (
                <p className="empty" data-testid="chats-empty">
                    No chats yet. <Link to="/people">Find people</Link> to message.
                </p>
            )}
            {loading && <p className="muted">Loading…</p>}
            {list.pageInfo.hasNextPage && !loading && (
                <button type="button" className="btn btn-block" onClick={() => load(list.pageInfo.endCursor)} data-testid="load-more">
                    Load more
                </button>
            )}
        </div>
    );
}
