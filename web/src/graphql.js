// A tiny GraphQL-over-HTTP client: POST JSON to /graphql with the session cookies.

/** Thrown for a response carrying `errors`; `errors` is the server's list, `data` any partial data. */
export class GraphQLError extends Error {
    constructor(errors, data) {
        super(errors.map((e) => e && e.message).filter(Boolean).join('; ') || 'Request failed');
        this.name = 'GraphQLError';
        this.errors = errors;
        this.data = data;
    }
}

/** Thrown when the server cannot be reached or does not answer with GraphQL JSON. */
export class NetworkError extends Error {
    constructor(message) {
        super(message);
        this.name = 'NetworkError';
    }
}

/**
 * Run one operation. Resolves with `data`; rejects with GraphQLError when the response has
 * errors (even alongside partial data) and NetworkError when there is no usable response.
 */
export async function gql(query, variables = {}, { signal } = {}) {
    let res;
    try {
        res = await fetch('/graphql', {
            method: 'POST',
            credentials: 'same-origin',
            headers: {
                'Content-Type': 'application/json',
                Accept: 'application/graphql-response+json, application/json',
            },
            body: JSON.stringify({ query, variables }),
            signal,
        });
    } catch (e) {
        if (e && e.name === 'AbortError') throw e;
        throw new NetworkError('Cannot reach the server');
    }
    let body = null;
    const type = res.headers.get('content-type') || '';
    if (type.includes('json')) {
        try {
            body = await res.json();
        } catch {
            body = null;
        }
    }
    if (!body || typeof body !== 'object') {
        if (res.status === 429) throw new NetworkError('Too many attempts: wait a moment and try again');
        throw new NetworkError(`Server error (${res.status})`);
    }
    if (Array.isArray(body.errors) && body.errors.length) throw new GraphQLError(body.errors, body.data);
    if (!res.ok) throw new NetworkError(`Server error (${res.status})`);
    return body.data;
}

/** A short, human message for any error thrown by gql(). */
export function errorText(e) {
    if (!e) return '';
    return e.message || String(e);
}

/**
 * Split GraphQL errors into per-field messages and the rest. A server error names its field
 * with `extensions.field` (or `extensions.argument`); otherwise the message is matched against
 * the form's field names, and unmatched messages go to `_form`.
 */
export function fieldErrors(e, fields) {
    const out = {};
    const add = (k, m) => {
        out[k] = out[k] ? `${out[k]} ${m}` : m;
    };
    if (!(e instanceof GraphQLError)) {
        add('_form', errorText(e));
        return out;
    }
    for (const err of e.errors) {
        const msg = (err && err.message) || 'Invalid input';
        const ext = (err && err.extensions) || {};
        let field = ext.field || ext.argument;
        if (!fields.includes(field)) {
            const low = msg.toLowerCase();
            field = fields.find((f) => low.includes(fieldWord(f)));
        }
        add(field || '_form', msg);
    }
    return out;
}

function fieldWord(f) {
    return f === 'displayName' ? 'display' : f.toLowerCase();
}

// Fragments shared by the pages.
export const USER_FIELDS = `id username displayName followerCount followingCount isFollowedByMe online`;
export const MESSAGE_FIELDS = `id text createdAt sender { id username displayName }`;
export const CHATROOM_SUMMARY = `id kind name unreadCount createdAt
  members { id username displayName online }
  lastMessage { ${MESSAGE_FIELDS} }`;
