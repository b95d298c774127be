import { useCallback, useEffect, useRef, useState } from 'react';
import { useRouter } from '../router.jsx';
import { useSession, useSocketEvent } from '../session.jsx';
import { errorText, gql, USER_FIELDS } from '../graphql.js';
import Avatar from '../components/Avatar.jsx';
import { displayName, plural } from '../format.js';

const PAGE = 20;
const USERS = `query Users($search: String, $first: Int, $after: String) {
  users(search: $search, first: $first, after: $after) {
    nodes { ${USER_FIELDS} }
    pageInfo { hasNextPage endCursor }
  }
}`;
const FOLLOW = `mutation Follow($userId: ID!) {
  followUnfollowUser(userId: $userId) { following user { ${USER_FIELDS} } }
}`;
const OPEN_CHAT = `mutation Open($userId: ID!) { getLocation(userId: $userId) { id } }`;

function UserRow({ user, isMe, onToggle, onMessage, busy }) {
    return (
        <li className="row row-person" data-testid="user-row" data-username={user.username} data-user-id={user.id}>
            <Avatar user={user} />
            <div className="row-main">
                <div className="row-title row-title-start">
                    <span className="name">{displayName(user)}</span>
                    {user.online && (
                        <span className="online-dot" title="Online">
                            <span className="sr-only">online</span>
                        </span>
                    )}
                </div>
                <div className="row-meta muted">
                    <span>@{user.username}</span> ·{' '}
                    <span data-testid="follower-count" data-count={user.followerCount}>
                        {plural(user.followerCount, 'follower', 'followers')}
                    </span>
                </div>
            </div>
            {isMe ? (
                <span className="muted small">You</span>
            ) : (
                <div className="row-actions">
                    <button
                        type="button"
                        className={`btn btn-small ${user.isFollowedByMe ? '' : 'btn-primary'}`}
                        aria-pressed={user.isFollowedByMe}
                        aria-label={`Follow ${displayName(user)}`}
                        onClick={() => onToggle(user)}
                        disabled={busy}
                        data-testid="follow-btn"
                    >
                        {user.isFollowedByMe ? 'Following' : 'Follow'}
                    </button>
                    <button
                        type="button"
                        className="btn btn-small"
                        aria-label={`Message ${displayName(user)}`}
                        onClick={() => onMessage(user)}
                        disabled={busy}
                        data-testid="message-btn"
                    >
                        Message
                    </button>
                </div>
            )}
        </li>
    );
}

export default function People() {
    const { me, setMe, authed } = useSession();
    const { navigate } = useRouter();
    const [query, setQuery] = useState('');
    const [search, setSearch] = useState('');
    const [list, setList] = useState({ nodes: [], pageInfo: { hasNextPage: false, endCursor: null } });
    const [loading, setLoading] = useState(true);
    const [error, setError] = useState('');
    const [busyId, setBusyId] = useState(null);
    const reqSeq = useRef(0);

    useEffect(() => {
        document.title = 'People · roost';
    }, []);

    // Debounce typing into a search.
    useEffect(() => {
        const t = setTimeout(() => setSearch(query.trim()), 250);
        return () => clearTimeout(t);
    }, [query]);

    const load = useCallback(async (term, after) => {
        const seq = ++reqSeq.current;
        setLoading(true);
        setError('');
        try {
            const d = await gql(USERS, { search: term || null, first: PAGE, after: after || null });
            if (seq !== reqSeq.current) return;
            setList((prev) => {
                if (!after) return d.users;
                const seen = new Set(prev.nodes.map((u) => u.id));
                return { nodes: [...prev.nodes, ...d.users.nodes.filter((u) => !seen.has(u.id))], pageInfo: d.users.pageInfo };
            });
        } catch (e) {
            if (seq === reqSeq.current) setError(errorText(e));
        } finally {
            if (seq === reqSeq.current) setLoading(false);
        }
    }, []);

    // Reload when the search changes and once the socket session is (re)established.
    const ready = authed === true;
    useEffect(() => {
        load(search, null);
    }, [search, load, ready]);

    const patchUser = (u) => setList((l) => ({ ...l, nodes: l.nodes.map((x) => (x.id === u.id ? { ...x, ...u } : x)) }));

    // Live: someone followed the viewer; the viewer's own row shows the new count.
    useSocketEvent('followed', (p) => {
        if (!me || !p || typeof p.followerCount !== 'number') return;
        patchUser({ id: me.id, followerCount: p.followerCount });
    });

    const toggle = async (user) => {
        setBusyId(user.id);
        setError('');
        try {
            const d = await gql(FOLLOW, { userId: user.id });
            const r = d.followUnfollowUser;
            patchUser({ ...r.user, isFollowedByMe: r.following });
            if (me) setMe((m) => (m ? { ...m, followingCount: m.followingCount + (r.following ? 1 : -1) } : m));
        } catch (e) {
            setError(errorText(e));
        } finally {
            setBusyId(null);
        }
    };

    const message = async (user) => {
        setBusyId(user.id);
        setError('');
        try {
            const d = await gql(OPEN_CHAT, { userId: user.id });
            navigate(`/chats/${encodeURIComponent(d.getLocation.id)}`);
        } catch (e) {
            setError(errorText(e));
            setBusyId(null);
        }
    };

    return (
        <div className="page">
            <h1>People</h1>
            {me && (
                <p className="muted" data-testid="my-counts">
                    You (@{me.username}):{' '}
                    <span data-testid="my-follower-count" data-count={me.followerCount}>
                        {plural(me.followerCount, 'follower', 'followers')}
                    </span>
                    {' · '}
                    <span data-testid="my-following-count">{me.followingCount} following</span>
                </p>
            )}
            <form
                className="search"
                role="search"
                onSubmit={(e) => {
                    e.preventDefault();
                    setSearch(query.trim());
                }}
            >
                <label htmlFor="people-search" className="sr-only">
                    Search people
                </label>
                <input
                    id="people-search"
                    type="search"
                    placeholder="Search by name or username"
                    value={query}
                    onChange={(e) => setQuery(e.target.value)}
                    autoComplete="off"
                    data-testid="people-search"
                />
                <button type="submit" className="btn">
                    Search
                </button>
            </form>
            {error && (
                <p className="form-error" role="alert" data-testid="people-error">
                    {error}
                </p>
            )}
            <ul className="list" aria-label="People" aria-busy={loading} data-testid="people-list">
                {list.nodes.map((u) => (
                    <UserRow
                        key={u.id}
                        user={u}
                        isMe={me && u.id === me.id}
                        onToggle={toggle}
                        onMessage={message}
                        busy={busyId === u.id}
                    />
                ))}
            </ul>
            {!loading && !error && list.nodes.length === 0 && (
                <p className="empty" data-testid="people-empty">
                    {search ? `Nobody matches “${search}”.` : 'No one here yet.'}
                </p>
            )}
            {loading && <p className="muted" aria-live="polite">Loading…</p>}
            {list.pageInfo.hasNextPage && !loading && (
                <button type="button" className="btn btn-block" onClick={() => load(search, list.pageInfo.endCursor)} data-testid="load-more">
                    Load more
                </button>
            )}
        </div>
    );
}
