import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { Link } from '../router.jsx';
import { useSession, useSocketEvent } from '../session.jsx';
import { errorText, gql, MESSAGE_FIELDS } from '../graphql.js';
import { chatTitle, displayName, fullTime, shortTime } from '../format.js';

const PAGE = 30;
const MAX_TEXT = 4000;
const ROOM = `query Room($id: ID!, $last: Int) {
  chatroom(id: $id) {
    id kind name unreadCount
    members { id username displayName online }
    messages(last: $last) { nodes { ${MESSAGE_FIELDS} } pageInfo { hasPreviousPage startCursor } }
  }
}`;
const OLDER = `query Older($id: ID!, $last: Int, $before: String) {
  chatroom(id: $id) {
    id
    messages(last: $last, before: $before) { nodes { ${MESSAGE_FIELDS} } pageInfo { hasPreviousPage startCursor } }
  }
}`;
const SEND = `mutation Send($id: ID!, $text: String!) { sendMessage(chatroomId: $id, text: $text) { ${MESSAGE_FIELDS} } }`;
const MARK_READ = `mutation Read($id: ID!) { markRead(chatroomId: $id) { id unreadCount } }`;

function appendUnique(list, msgs) {
    const seen = new Set(list.map((m) => m.id));
    const add = msgs.filter((m) => m && m.id && !seen.has(m.id) && seen.add(m.id));
    return add.length ? [...list, ...add] : list;
}

function prependUnique(list, msgs) {
    const seen = new Set(list.map((m) => m.id));
    const add = msgs.filter((m) => m && m.id && !seen.has(m.id));
    return add.length ? [...add, ...list] : list;
}

function nearBottom(el) {
    return !el || el.scrollHeight - el.scrollTop - el.clientHeight < 80;
}

function Message({ msg, mine, showSender, unreadMarker }) {
    return (
        <>
            {unreadMarker && (
                <li className="divider" data-testid="unread-marker">
                    <span>New messages</span>
                </li>
            )}
            <li className={`msg ${mine ? 'msg-mine' : 'msg-theirs'}`} data-testid="message" data-message-id={msg.id} data-mine={mine ? 'true' : 'false'}>
                <div className="bubble">
                    {showSender && <div className="msg-sender">{displayName(msg.sender)}</div>}
                    <span className="sr-only">{mine ? 'You' : displayName(msg.sender)}: </span>
                    <p className="msg-text" data-testid="message-text">
                        {msg.text}
                    </p>
                    <time className="msg-time" dateTime={msg.createdAt} title={fullTime(msg.createdAt)}>
                        {shortTime(msg.createdAt)}
                    </time>
                </div>
            </li>
        </>
    );
}

export default function Conversation({ params }) {
    const id = params.id;
    const { me, authed } = useSession();
    const [room, setRoom] = useState(null);
    const [messages, setMessages] = useState([]);
    const [pageInfo, setPageInfo] = useState({ hasPreviousPage: false, startCursor: null });
    const [error, setError] = useState('');
    const [loadingOlder, setLoadingOlder] = useState(false);
    const [marker, setMarker] = useState(null); // id of the first unread message at open
    const [text, setText] = useState('');
    const [sending, setSending] = useState(false);
    const [sendError, setSendError] = useState('');
    const [newBelow, setNewBelow] = useState(false);
    const listRef = useRef(null);
    const inputRef = useRef(null);
    const scrollPlan = useRef(null); // what to do with the scroll position after the next render
    const readTimer = useRef(null);
    const loadedOnce = useRef(false);

    useEffect(() => {
        document.title = room ? `${chatTitle(room, me && me.id)} · roost` : 'Chat · roost';
    }, [room, me]);

    const markRead = useCallback(() => {
        clearTimeout(readTimer.current);
        readTimer.current = setTimeout(() => {
            gql(MARK_READ, { id }).catch(() => {});
        }, 200);
    }, [id]);
    useEffect(() => () => clearTimeout(readTimer.current), []);

    // First load, and a catch-up after every re-authentication (messages may have been missed).
    const ready = authed === true;
    useEffect(() => {
        let live = true;
        gql(ROOM, { id, last: PAGE })
            .then((d) => {
                if (!live) return;
                const r = d.chatroom;
                if (!r) {
                    setError('This chat does not exist or you are not a member.');
                    return;
                }
                setError('');
                setRoom(r);
                const nodes = r.messages.nodes;
                if (!loadedOnce.current) {
                    loadedOnce.current = true;
                    setMessages(nodes);
                    setPageInfo(r.messages.pageInfo);
                    if (r.unreadCount > 0 && r.unreadCount <= nodes.length) setMarker(nodes[nodes.length - r.unreadCount].id);
                    scrollPlan.current = { kind: 'bottom' };
                } else {
                    const el = listRef.current;
                    scrollPlan.current = nearBottom(el) ? { kind: 'bottom' } : null;
                    setMessages((m) => appendUnique(m, nodes));
                }
                if (r.unreadCount > 0) markRead();
            })
            .catch((e) => live && !loadedOnce.current && setError(errorText(e)));
        return () => {
            live = false;
        };
    }, [id, ready, markRead]);

    useLayoutEffect(() => {
        const el = listRef.current;
        const plan = scrollPlan.current;
        if (!el || !plan) return;
        scrollPlan.current = null;
        if (plan.kind === 'bottom') el.scrollTop = el.scrollHeight;
        else if (plan.kind === 'keep') el.scrollTop = el.scrollHeight - plan.fromBottom;
    }, [messages]);

    const loadOlder = useCallback(async () => {
        if (loadingOlder || !pageInfo.hasPreviousPage) return;
        setLoadingOlder(true);
        try {
            const d = await gql(OLDER, { id, last: PAGE, before: pageInfo.startCursor });
            const conn = d.chatroom.messages;
            const el = listRef.current;
            scrollPlan.current = el ? { kind: 'keep', fromBottom: el.scrollHeight - el.scrollTop } : null;
            setMessages((m) => prependUnique(m, conn.nodes));
            setPageInfo(conn.pageInfo);
        } catch (e) {
            setError(errorText(e));
        } finally {
            setLoadingOlder(false);
        }
    }, [id, loadingOlder, pageInfo]);

    const onScroll = () => {
        const el = listRef.current;
        if (!el) return;
        if (el.scrollTop < 40) loadOlder();
        if (newBelow && nearBottom(el)) setNewBelow(false);
    };

    const scrollToBottom = () => {
        const el = listRef.current;
        if (el) el.scrollTop = el.scrollHeight;
        setNewBelow(false);
    };

    useSocketEvent('chatroom', (p) => {
        if (!p || p.chatroomId !== id || !p.message) return;
        const msg = { ...p.message };
        const mine = me && msg.sender && msg.sender.id === me.id;
        const atBottom = nearBottom(listRef.current);
        scrollPlan.current = atBottom || mine ? { kind: 'bottom' } : null;
        if (!atBottom && !mine) setNewBelow(true);
        setMessages((m) => appendUnique(m, [msg]));
        if (!mine && document.visibilityState === 'visible') markRead();
    });

    // Catch up on read state when the tab becomes visible again.
    useEffect(() => {
        const onVis = () => {
            if (document.visibilityState === 'visible') markRead();
        };
        document.addEventListener('visibilitychange', onVis);
        return () => document.removeEventListener('visibilitychange', onVis);
    }, [markRead]);

    const send = async (e) => {
        if (e) e.preventDefault();
        const body = text.trim();
        if (!body || sending) return;
        if (body.length > MAX_TEXT) {
            setSendError(`Messages are limited to ${MAX_TEXT} characters.`);
            return;
        }
        setSending(true);
        setSendError('');
        try {
            const d = await gql(SEND, { id, text: body });
            scrollPlan.current = { kind: 'bottom' };
            setMessages((m) => appendUnique(m, [d.sendMessage]));
            setText('');
        } catch (err) {
            setSendError(errorText(err));
        } finally {
            setSending(false);
            inputRef.current?.focus();
        }
    };

    const onKeyDown = (e) => {
        if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            send();
        }
    };

    const meId = me && me.id;
    const title = room ? chatTitle(room, meId) : 'Chat';
    const other = room && room.kind !== 'GROUP' ? room.members.find((m) => m.id !== meId) : null;
    const group = room && room.kind === 'GROUP';
    const over = text.length > MAX_TEXT;

    return (
        <div className="convo">
            <div className="convo-head">
                <Link to="/chats" className="btn btn-small btn-ghost" aria-label="Back to chats" data-testid="back-to-chats">
                    ←
                </Link>
                <div className="convo-title">
                    <h1 data-testid="convo-title">{title}</h1>
                    {other && (
                        <p className="muted small">
                            @{other.username}
                            {other.online ? ' · online' : ''}
                        </p>
                    )}
                    {group && <p className="muted small">{room.members.map(displayName).join(', ')}</p>}
                </div>
            </div>
            {error && (
                <p className="form-error" role="alert" data-testid="convo-error">
                    {error} <Link to="/chats">Back to chats</Link>
                </p>
            )}
            <div className="convo-scroll" ref={listRef} onScroll={onScroll} data-testid="message-scroll">
                {pageInfo.hasPreviousPage && (
                    <button type="button" className="btn btn-small load-older" onClick={loadOlder} disabled={loadingOlder} data-testid="load-earlier">
                        {loadingOlder ? 'Loading…' : 'Load earlier messages'}
                    </button>
                )}
                {room && !messages.length && <p className="empty">No messages yet. Say hello!</p>}
                <ol className="messages" role="log" aria-live="polite" aria-label={`Messages with ${title}`} data-testid="message-list">
                    {messages.map((m) => (
                        <Message
                            key={m.id}
                            msg={m}
                            mine={m.sender && m.sender.id === meId}
                            showSender={group && !(m.sender && m.sender.id === meId)}
                            unreadMarker={m.id === marker}
                        />
                    ))}
                </ol>
            </div>
            {newBelow && (
                <button type="button" className="btn btn-small jump" onClick={scrollToBottom} data-testid="jump-new">
                    New messages ↓
                </button>
            )}
            <form className="composer" onSubmit={send}>
                <label htmlFor="message-input" className="sr-only">
                    Message
                </label>
                <textarea
                    id="message-input"
                    ref={inputRef}
                    rows={1}
                    value={text}
                    onChange={(e) => {
                        setText(e.target.value);
                        if (sendError) setSendError('');
                    }}
                    onKeyDown={onKeyDown}
                    placeholder="Write a message"
                    aria-invalid={over ? 'true' : undefined}
                    aria-describedby={sendError || over ? 'send-error' : undefined}
                    disabled={!room}
                    data-testid="message-input"
                />
                <button type="submit" className="btn btn-primary" disabled={!room || sending || !text.trim() || over} data-testid="send-btn">
                    Send
                </button>
                {(sendError || over) && (
                    <p id="send-error" className="field-error composer-error" role="alert" data-testid="send-error">
                        {sendError || `${text.length} / ${MAX_TEXT} characters: too long.`}
                    </p>
                )}
            </form>
        </div>
    );
}
