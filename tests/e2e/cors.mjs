// Cross-origin calls from a real browser page: Debian's Chromium, headless, playwright-core.
// Usage: node cors.mjs <api base url> <bearer token> <page url>...
//
// Each page (on its own origin, served by the test) calls POST <api>/graphql with fetch()
// and a bearer token, which makes the browser send a CORS preflight first. Prints one JSON
// object on stdout: per page origin, either {status, body, requestId} of the answer the page
// could read, or {error} when the browser refused it, and the console messages.
import { chromium } from 'playwright-core';

const [apiUrl, token, ...pages] = process.argv.slice(2);
if (!apiUrl || !token || pages.length === 0) {
  console.error('usage: node cors.mjs <api base url> <token> <page url>...');
  process.exit(2);
}
const CHROMIUM = '/usr/bin/chromium';

const browser = await chromium
  .launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
  })
  .catch((error) => {
    console.error(`cannot start ${CHROMIUM} (Debian's chromium package): ${error.message}`);
    process.exit(3);
  });

const results = {};
try {
  for (const pageUrl of pages) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const consoleMessages = [];
    page.on('console', (message) => consoleMessages.push(message.text()));
    await page.goto(pageUrl);
    const origin = new URL(pageUrl).origin;
    results[origin] = await page.evaluate(
      async ([url, bearer]) => {
        try {
          const response = await fetch(`${url}/graphql`, {
            method: 'POST',
            headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/json' },
            body: JSON.stringify({ query: '{ offers { id } }' }),
          });
          return {
            status: response.status,
            body: await response.json(),
            requestId: response.headers.get('X-Request-Id'),
          };
        } catch (error) {
          return { error: String(error) };
        }
      },
      [apiUrl, token],
    );
    results[origin].console = consoleMessages;
    await context.close();
  }
  console.log(JSON.stringify(results));
} finally {
  await browser.close();
}
