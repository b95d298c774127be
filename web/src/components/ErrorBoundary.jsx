import { Component } from 'react';

/** Keeps a rendering bug from blanking the whole app. */
export default class ErrorBoundary extends Component {
    constructor(props) {
        super(props);
        this.state = { error: null };
    }
    static getDerivedStateFromError(error) {
        return { error };
    }
    render() {
        if (!this.state.error) return this.props.children;
        return (
            <div className="page" role="alert">
                <h1>Something went wrong</h1>
                <p className="muted">{String(this.state.error.message || this.state.error)}</p>
                <button type="button" className="btn" onClick={() => window.location.reload()}>
                    Reload
                </button>
            </div>
        );
    }
}
