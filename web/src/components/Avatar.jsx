// Initials in a coloured circle: decorative, the name is always shown beside it.
function hue(s) {
    let h = 0;
    for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
    return h % 360;
}

export default function Avatar({ user, size = 40 }) {
    const name = (user && (user.displayName || user.username)) || '?';
    const initials = Array.from(name.trim()).slice(0, 1).join('').toUpperCase() || '?';
    return (
        <span
            className="avatar"
            aria-hidden="true"
            style={{ width: size, height: size, background: `hsl(${hue(user?.id || name)} 55% 45%)` }}
        >
            {initials}
        </span>
    );
}
