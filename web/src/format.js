// Dates and names for display.
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function parse(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? null : d;
}

/** "14:05" today, "Mar 3" otherwise. */
export function shortTime(iso) {
    const d = parse(iso);
    if (!d) return '';
    const now = new Date();
    return d.toDateString() === now.toDateString() ? timeFmt.format(d) : dayFmt.format(d);
}

export function fullTime(iso) {
    const d = parse(iso);
    return d ? fullFmt.format(d) : '';
}

export function displayName(u) {
    return (u && (u.displayName || u.username)) || 'Unknown';
}

/** A chatroom's title for the viewer: its name, or the other members' names. */
export function chatTitle(room, meId) {
    if (!room) return '';
    if (room.name) return room.name;
    const others = (room.members || []).filter((m) => m.id !== meId);
    if (!others.length) return 'Just you';
    return others.map(displayName).join(', ');
}

export function plural(n, one, many) {
    return `${n} ${n === 1 ? one : many}`;
}
