// The session: the seed's context wrapper around the whole app. It owns the one Socket.IO
// connection, reads the `id` / `secretkey` cookies, announces them with `initialConnection`
// (on load, on every (re)connect and whenever the cookies change) and, on `auth` false,
// removes both cookies and sends the browser to /portal.
import {
    createContext,
    useCallback,
    useContext,
    useEffect,
    useLayoutEffect,
    useMemo,
    useRef,
    useState,
} from 'react';
import Cookies from 'js-cookie';
import { io } from 'socket.io-client';
import { gql, USER_FIELDS } from './graphql.js';

export const RECONNECT_ATTEMPTS = 5;

// The seed: "I went with 5, spaced 1000ms apart." No growth, no jitter.
const SOCKET_OPTIONS = {
    autoConnect: false,
    reconnectionAttempts: RECONNECT_ATTEMPTS,
    reconnectionDelay: 1000,
    reconnectionDelayMax: 1000,
    randomizationFactor: 0,
};

const COOKIE_POLL_MS = 1000;
const TOAST_MS = 6000;
const SIGNED_OUT_KEY = 'roost.signedOut';

export function readCredentials() {
    return { id: Cookies.get('id') || null, secretkey: Cookies.get('secretkey') || null };
}

export function hasCredentials(c) {
    return Boolean(c && c.id && c.secretkey);
}

/** Store the session cookies the way the server sets them: SameSite=Strict, Path=/. */
export function saveCredentials(id, secretkey) {
    const attrs = { path: '/', sameSite: 'Strict', expires: 30 };
    if (window.location.protocol === 'https:') attrs.secure = true;
    Cookies.set('id', id, attrs);
    Cookies.set('secretkey', secretkey, attrs);
}

export function clearCredentials() {
    Cookies.remove('id', { path: '/' });
    Cookies.remove('secretkey', { path: '/' });
}

/** A one-shot note for the portal explaining why the user was signed out. */
export function takeSignedOutNote() {
    try {
        const note = sessionStorage.getItem(SIGNED_OUT_KEY);
        sessionStorage.removeItem(SIGNED_OUT_KEY);
        return note;
    } catch {
        return null;
    }
}

const SessionContext = createContext(null);

export function useSession() {
    return useContext(SessionContext);
}

/** Subscribe to a Socket.IO event for the life of the component; `handler` may change freely. */
export function useSocketEvent(name, handler) {
    const { socket } = useSession();
    const ref = useRef(handler);
    useLayoutEffect(() => {
        ref.current = handler;
    });
    useEffect(() => {
        const h = (...args) => ref.current(...args);
        socket.on(name, h);
        return () => socket.off(name, h);
    }, [socket, name]);
}

function sameCredentials(a, b) {
    return a.id === b.id && a.secretkey === b.secretkey;
}

export function SessionProvider({ children }) {
    const [socket] = useState(() => io(SOCKET_OPTIONS));
    const [creds, setCreds] = useState(readCredentials);
    const credsRef = useRef(creds);
    // state: connecting | connected | reconnecting | offline; attempt: 1..5 while reconnecting
    const [conn, setConn] = useState({ state: 'connecting', attempt: 0 });
    const [authed, setAuthed] = useState(null); // null until the server answers `auth`
    const [me, setMe] = useState(null);
    const [toasts, setToasts] = useState([]);
    const pendingAuth = useRef(0);
    const toastSeq = useRef(0);

    const refreshCredentials = useCallback(() => {
        const next = readCredentials();
        setCreds((prev) => (sameCredentials(prev, next) ? prev : next));
    }, []);

    // Emitting while disconnected would be buffered and sent again by the connect handler,
    // so only a connected socket announces; `connect` covers the rest.
    const announce = useCallback(() => {
        const { id, secretkey } = credsRef.current;
        if (!id || !secretkey || !socket.connected) return;
        pendingAuth.current += 1;
        socket.emit('initialConnection', { id, secretkey });
    }, [socket]);

    const signOutHere = useCallback((reason) => {
        clearCredentials();
        try {
            sessionStorage.setItem(SIGNED_OUT_KEY, reason || 'Your session has ended. Please log in again.');
        } catch {
            /* storage may be unavailable; the note is optional */
        }
        window.location.assign('/portal');
    }, []);

    const dismissToast = useCallback((id) => setToasts((t) => t.filter((x) => x.id !== id)), []);
    const pushToast = useCallback(
        (text, kind = 'info') => {
            const id = ++toastSeq.current;
            setToasts((t) => [...t.slice(-3), { id, text, kind }]);
            setTimeout(() => dismissToast(id), TOAST_MS);
        },
        [dismissToast],
    );

    // The socket's life and its events.
    useEffect(() => {
        const manager = socket.io;
        const onConnect = () => {
            pendingAuth.current = 0;
            setAuthed(null);
            setConn({ state: 'connected', attempt: 0 });
            announce();
        };
        const onDisconnect = (reason) => {
            setAuthed(null);
            if (reason === 'io client disconnect') setConn({ state: 'connecting', attempt: 0 });
            // The server closed the session on purpose: socket.io does not reconnect by itself.
            else if (reason === 'io server disconnect') setConn({ state: 'offline', attempt: 0 });
            else setConn({ state: 'reconnecting', attempt: 0 });
        };
        const onConnectError = () => {
            // Transport trouble leaves the socket active: the manager retries and reports
            // attempts. An inactive socket means the server refused the CONNECT itself, which a
            // server authenticating from the cookies at connect time does for a bad session
            // (CONNECT_ERROR "unauthorized"): the seed's answer to a failed auth applies.
            if (socket.active) return;
            if (hasCredentials(credsRef.current)) signOutHere('Your session is no longer valid. Please log in again.');
            else setConn({ state: 'offline', attempt: 0 });
        };
        const onAttempt = (n) => setConn({ state: 'reconnecting', attempt: n });
        const onFailed = () => setConn({ state: 'offline', attempt: RECONNECT_ATTEMPTS });
        const onAuth = (ok, info) => {
            pendingAuth.current = Math.max(0, pendingAuth.current - 1);
            // An answer to an older announcement that a newer one has superseded.
            if (pendingAuth.current > 0) return;
            if (ok === true || ok === 'true') {
                setAuthed(true);
                return;
            }
            setAuthed(false);
            if (!hasCredentials(credsRef.current)) return;
            const reason = info && typeof info.reason === 'string' ? info.reason : '';
            signOutHere(reason ? `Signed out: ${reason}` : '');
        };
        const onFollowed = (p) => {
            const f = (p && p.follower) || {};
            const who = f.displayName || f.username || 'Someone';
            pushToast(`${who}${f.username ? ` (@${f.username})` : ''} followed you`);
            if (p && typeof p.followerCount === 'number')
                setMe((m) => (m ? { ...m, followerCount: p.followerCount } : m));
        };
        socket.on('connect', onConnect);
        socket.on('disconnect', onDisconnect);
        socket.on('connect_error', onConnectError);
        socket.on('auth', onAuth);
        socket.on('followed', onFollowed);
        manager.on('reconnect_attempt', onAttempt);
        manager.on('reconnect_failed', onFailed);
        socket.connect();
        return () => {
            socket.off('connect', onConnect);
            socket.off('disconnect', onDisconnect);
            socket.off('connect_error', onConnectError);
            socket.off('auth', onAuth);
            socket.off('followed', onFollowed);
            manager.off('reconnect_attempt', onAttempt);
            manager.off('reconnect_failed', onFailed);
            socket.disconnect();
        };
    }, [socket, announce, signOutHere, pushToast]);

    // The seed's effects: follow the cookies (another tab may log in or out) ...
    useEffect(() => {
        const timer = setInterval(refreshCredentials, COOKIE_POLL_MS);
        const onFocus = () => refreshCredentials();
        window.addEventListener('focus', onFocus);
        return () => {
            clearInterval(timer);
            window.removeEventListener('focus', onFocus);
        };
    }, [refreshCredentials]);

    // ... and announce whenever they change.
    useEffect(() => {
        const prev = credsRef.current;
        credsRef.current = creds;
        if (prev === creds) return; // first run: `connect` announces
        setAuthed(null);
        if (hasCredentials(creds)) {
            announce();
        } else if (hasCredentials(prev) && socket.connected) {
            // Cookies gone (logout here or in another tab): drop the old identity's socket.
            socket.disconnect();
            socket.connect();
        }
    }, [creds, announce, socket]);

    // Who the viewer is, for the header and the people page (again once the socket is
    // authenticated, which also refreshes the counts after a reconnect).
    const authedOk = authed === true;
    useEffect(() => {
        if (!hasCredentials(creds)) {
            setMe(null);
            return undefined;
        }
        let live = true;
        gql(`query Me { me { ${USER_FIELDS} } }`)
            .then((d) => live && setMe(d.me || null))
            .catch(() => {});
        return () => {
            live = false;
        };
    }, [creds, authedOk]);

    const retry = useCallback(() => {
        setConn({ state: 'connecting', attempt: 0 });
        socket.connect();
    }, [socket]);

    /** Adopt the credentials from a register/login AuthPayload. */
    const signIn = useCallback(
        (payload) => {
            saveCredentials(payload.id, payload.secretkey);
            if (payload.user) setMe(payload.user);
            refreshCredentials();
        },
        [refreshCredentials],
    );

    const signOut = useCallback(async () => {
        try {
            await gql('mutation Logout { logout }');
        } catch {
            /* the cookies go regardless; the server revokes on its side when reachable */
        }
        clearCredentials();
        setMe(null);
        refreshCredentials();
    }, [refreshCredentials]);

    const value = useMemo(
        () => ({
            socket,
            creds,
            loggedIn: hasCredentials(creds),
            authed,
            me,
            setMe,
            conn,
            retry,
            signIn,
            signOut,
            refreshCredentials,
            toasts,
            pushToast,
            dismissToast,
        }),
        [socket, creds, authed, me, conn, retry, signIn, signOut, refreshCredentials, toasts, pushToast, dismissToast],
    );
    return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}
