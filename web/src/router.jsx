// A small client-side router over the History API: enough for four pages.
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react';

const RouterContext = createContext(null);

export function Router({ children }) {
    const [path, setPath] = useState(() => window.location.pathname);

    useEffect(() => {
        const onPop = () => setPath(window.location.pathname);
        window.addEventListener('popstate', onPop);
        return () => window.removeEventListener('popstate', onPop);
    }, []);

    const navigate = useCallback((to, { replace = false } = {}) => {
        const url = new URL(to, window.location.href);
        if (url.origin !== window.location.origin) {
            window.location.assign(url.href);
            return;
        }
        const target = url.pathname + url.search + url.hash;
        const current = window.location.pathname + window.location.search + window.location.hash;
        if (target !== current) {
            window.history[replace ? 'replaceState' : 'pushState'](null, '', target);
            if (!replace) window.scrollTo(0, 0);
        }
        setPath(url.pathname);
    }, []);

    const value = useMemo(() => ({ path, navigate }), [path, navigate]);
    return <RouterContext.Provider value={value}>{children}</RouterContext.Provider>;
}

export function useRouter() {
    return useContext(RouterContext);
}

/** Match `/chats/:id` style patterns; returns the decoded params or null. */
export function matchPath(pattern, path) {
    const p = pattern.split('/').filter(Boolean);
    const s = path.split('/').filter(Boolean);
    if (p.length !== s.length) return null;
    const params = {};
    for (let i = 0; i < p.length; i++) {
        if (p[i].startsWith(':')) {
            try {
                params[p[i].slice(1)] = decodeURIComponent(s[i]);
            } catch {
                return null;
            }
        } else if (p[i] !== s[i]) {
            return null;
        }
    }
    return params;
}

/** An <a> that navigates in-app on a plain left click and behaves normally otherwise. */
export function Link({ to, onClick, replace, ...rest }) {
    const { navigate } = useRouter();
    const handle = (e) => {
        if (onClick) onClick(e);
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey)
            return;
        e.preventDefault();
        navigate(to, { replace });
    };
    return <a href={to} onClick={handle} {...rest} />;
}

/** Redirect on render (used for guarded routes). */
export function Redirect({ to }) {
    const { navigate } = useRouter();
    useEffect(() => {
        navigate(to, { replace: true });
    }, [to, navigate]);
    return null;
}
