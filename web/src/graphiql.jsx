// GraphiQL for roost, served by the server itself for GET /graphql from a browser. Its own Vite
// entry so the main app's bundle never carries the editor. Everything (code, CSS, fonts) comes
// from the bundle: nothing is loaded from a CDN at run time.
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import 'graphiql/style.css';

// Same origin with cookies, so queries run as the viewer logged in to the web client.
const fetcher = createGraphiQLFetcher({
    url: '/graphql',
    fetch: (input, init) => fetch(input, { ...init, credentials: 'same-origin' }),
});

const defaultQuery = `# roost's GraphQL API. The docs explorer (book icon) lists every type and field.
# Queries run as the person logged in to this browser's roost session.
{
  __typename
}
`;

createRoot(document.getElementById('graphiql')).render(
    <GraphiQL fetcher={fetcher} defaultQuery={defaultQuery} />,
);
