// The GraphQL-over-HTTP audits of the reference implementation (graphql-http's auditServer)
// against a running Offerdesk. Usage: node audit.mjs <graphql url> <bearer token>
//
// Prints one line per audit on stderr, for people, and a JSON array on stdout, for the test:
// [{ id, name, level, status, reason?, response? }], level being MUST, SHOULD or MAY.
import { auditServer } from 'graphql-http';

const [url, token] = process.argv.slice(2);
if (!url || !token) {
  console.error('usage: node audit.mjs <graphql url> <bearer token>');
  process.exit(2);
}

// Every audit request carries the token: without one Offerdesk answers 401 before it looks
// at the request, and the audits would only ever see that.
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

const results = await auditServer({ url, fetchFn });
const report = [];
for (const result of results) {
  const level = result.name.split(' ')[0];
  const entry = { id: result.id, name: result.name, level, status: result.status };
  if (result.status !== 'ok') {
    entry.reason = result.reason;
    const response = result.response;
    let body;
    try {
      body = await response.text();
    } catch {
      body = '(body already read)';
    }
    entry.response = {
      status: response.status,
      contentType: response.headers.get('content-type'),
      body: body.slice(0, 500),
    };
  }
  report.push(entry);
  const mark = result.status === 'ok' ? 'ok    ' : result.status.padEnd(6);
  console.error(`${mark} ${result.id} ${result.name}${entry.reason ? `\n         -> ${entry.reason}` : ''}`);
}
console.log(JSON.stringify(report));
