import { useEffect, useId, useRef, useState } from 'react';
import { useRouter } from '../router.jsx';
import { takeSignedOutNote, useSession } from '../session.jsx';
import { fieldErrors, gql, USER_FIELDS } from '../graphql.js';

const REGISTER = `mutation Register($username: String!, $displayName: String!, $password: String!) {
  register(username: $username, displayName: $displayName, password: $password) {
    id secretkey user { ${USER_FIELDS} }
  }
}`;
const LOGIN = `mutation Login($username: String!, $password: String!) {
  login(username: $username, password: $password) { id secretkey user { ${USER_FIELDS} } }
}`;

const TABS = [
    { key: 'register', label: 'Register' },
    { key: 'login', label: 'Log in' },
];

function Field({ form, name, label, type = 'text', value, onChange, error, autoComplete, hint, inputRef }) {
    const id = `${form}-${name}`;
    const errId = `${id}-error`;
    const hintId = `${id}-hint`;
    const described = [hint ? hintId : null, error ? errId : null].filter(Boolean).join(' ') || undefined;
    return (
        <div className="field">
            <label htmlFor={id}>{label}</label>
            <input
                id={id}
                ref={inputRef}
                name={name}
                type={type}
                value={value}
                onChange={(e) => onChange(name, e.target.value)}
                autoComplete={autoComplete}
                aria-invalid={error ? 'true' : undefined}
                aria-describedby={described}
                data-testid={`${form}-${name.toLowerCase()}`}
                autoCapitalize="off"
                spellCheck={name === 'displayName'}
            />
            {hint && (
                <p className="hint" id={hintId}>
                    {hint}
                </p>
            )}
            {error && (
                <p className="field-error" id={errId} data-testid={`${form}-${name.toLowerCase()}-error`}>
                    {error}
                </p>
            )}
        </div>
    );
}

function validate(kind, v) {
    const e = {};
    if (!v.username.trim()) e.username = 'Enter a username.';
    if (kind === 'register' && !v.displayName.trim()) e.displayName = 'Enter the name people will see.';
    if (!v.password) e.password = 'Enter a password.';
    return e;
}

function AuthForm({ kind, onDone }) {
    const fields = kind === 'register' ? ['username', 'displayName', 'password'] : ['username', 'password'];
    const [values, setValues] = useState({ username: '', displayName: '', password: '' });
    const [errors, setErrors] = useState({});
    const [busy, setBusy] = useState(false);
    const firstRef = useRef(null);
    const formErrId = useId();

    const onChange = (name, value) => {
        setValues((v) => ({ ...v, [name]: value }));
        if (errors[name] || errors._form) setErrors((e) => ({ ...e, [name]: undefined, _form: undefined }));
    };

    const submit = async (ev) => {
        ev.preventDefault();
        if (busy) return;
        const local = validate(kind, values);
        if (Object.keys(local).length) {
            setErrors(local);
            const firstBad = fields.find((f) => local[f]);
            document.getElementById(`${kind}-${firstBad}`)?.focus();
            return;
        }
        setBusy(true);
        setErrors({});
        try {
            const vars =
                kind === 'register'
                    ? { username: values.username.trim(), displayName: values.displayName.trim(), password: values.password }
                    : { username: values.username.trim(), password: values.password };
            const data = await gql(kind === 'register' ? REGISTER : LOGIN, vars);
            onDone(data[kind], kind);
        } catch (e) {
            const errs = fieldErrors(e, fields);
            setErrors(errs);
            setBusy(false);
            const firstBad = fields.find((f) => errs[f]);
            if (firstBad) document.getElementById(`${kind}-${firstBad}`)?.focus();
        }
    };

    return (
        <form
            onSubmit={submit}
            noValidate
            aria-describedby={errors._form ? formErrId : undefined}
            data-testid={`${kind}-form`}
        >
            <Field
                form={kind}
                name="username"
                label="Username"
                value={values.username}
                onChange={onChange}
                error={errors.username}
                autoComplete="username"
                inputRef={firstRef}
                hint={kind === 'register' ? 'Letters, digits and underscores.' : undefined}
            />
            {kind === 'register' && (
                <Field
                    form={kind}
                    name="displayName"
                    label="Display name"
                    value={values.displayName}
                    onChange={onChange}
                    error={errors.displayName}
                    autoComplete="nickname"
                />
            )}
            <Field
                form={kind}
                name="password"
                label="Password"
                type="password"
                value={values.password}
                onChange={onChange}
                error={errors.password}
                autoComplete={kind === 'register' ? 'new-password' : 'current-password'}
            />
            {errors._form && (
                <p className="form-error" id={formErrId} role="alert" data-testid="portal-error">
                    {errors._form}
                </p>
            )}
            <button type="submit" className="btn btn-primary btn-block" disabled={busy} data-testid={`${kind}-submit`}>
                {busy ? 'Please wait…' : kind === 'register' ? 'Create account' : 'Log in'}
            </button>
        </form>
    );
}

export default function Portal() {
    const { loggedIn, signIn } = useSession();
    const { navigate } = useRouter();
    const [tab, setTab] = useState('register');
    const [note] = useState(takeSignedOutNote);
    const tabRefs = useRef({});

    useEffect(() => {
        document.title = 'Welcome · roost';
    }, []);

    useEffect(() => {
        if (loggedIn) navigate('/chats', { replace: true });
    }, [loggedIn, navigate]);

    const onDone = (payload, kind) => {
        signIn(payload);
        navigate(kind === 'register' ? '/people' : '/chats', { replace: true });
    };

    const onTabKey = (e) => {
        const i = TABS.findIndex((t) => t.key === tab);
        let j = null;
        if (e.key === 'ArrowRight') j = (i + 1) % TABS.length;
        else if (e.key === 'ArrowLeft') j = (i - 1 + TABS.length) % TABS.length;
        else if (e.key === 'Home') j = 0;
        else if (e.key === 'End') j = TABS.length - 1;
        if (j === null) return;
        e.preventDefault();
        setTab(TABS[j].key);
        tabRefs.current[TABS[j].key]?.focus();
    };

    return (
        <div className="page page-narrow portal">
            <h1>Welcome to roost</h1>
            <p className="muted">Follow people and chat with them in real time.</p>
            {note && (
                <p className="notice" role="alert" data-testid="signed-out-note">
                    {note}
                </p>
            )}
            <div className="card">
                <div className="tabs" role="tablist" aria-label="Account">
                    {TABS.map((t) => (
                        <button
                            key={t.key}
                            type="button"
                            role="tab"
                            id={`tab-${t.key}`}
                            ref={(el) => {
                                tabRefs.current[t.key] = el;
                            }}
                            aria-selected={tab === t.key}
                            aria-controls={`panel-${t.key}`}
                            tabIndex={tab === t.key ? 0 : -1}
                            className="tab"
                            onClick={() => setTab(t.key)}
                            onKeyDown={onTabKey}
                            data-testid={`portal-tab-${t.key}`}
                        >
                            {t.label}
                        </button>
                    ))}
                </div>
                <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="tabpanel">
                    <AuthForm key={tab} kind={tab} onDone={onDone} />
                </div>
            </div>
        </div>
    );
}
