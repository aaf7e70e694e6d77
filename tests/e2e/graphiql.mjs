// GraphiQL in a real browser: Debian's Chromium, headless, driven by playwright-core.
// Usage: node graphiql.mjs <base url> <bearer token> <offer event id> <screenshot.png>
//
// Opens <base url>/graphql as a person would, types the seed's offerEvent query into the
// editor and the token into the headers editor, runs it with the play button and reads the
// result pane. Prints on stdout one JSON object: what the editors held, the result pane's
// text, every request the page made, and the page's uncaught errors.
import { chromium } from 'playwright-core';

const [baseUrl, token, eventId, screenshot] = process.argv.slice(2);
if (!baseUrl || !token || !eventId || !screenshot) {
  console.error('usage: node graphiql.mjs <base url> <token> <offer event id> <screenshot.png>');
  process.exit(2);
}
const CHROMIUM = '/usr/bin/chromium';
const QUERY = `query { offerEvent(id: "${eventId}") { title dates { start end } contentTitle spotsAvailable } }`;
const HEADERS = `{"Authorization": "Bearer ${token}"}`;
const local = (url) => {
  const { protocol, hostname } = new URL(url);
  return ['data:', 'blob:', 'about:'].includes(protocol) || hostname === '127.0.0.1';
};

const browser = await chromium
  .launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  .catch((error) => {
    console.error(`cannot start ${CHROMIUM} (Debian's chromium package): ${error.message}`);
    process.exit(3);
  });

const requests = [];
const pageErrors = [];
let step = 'open';
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // Nothing may leave the machine: every request is recorded, and one that is not for this
  // machine is stopped (and then fails the test through the record).
  await context.route('**/*', (route) =>
    local(route.request().url()) ? route.continue() : route.abort('blockedbyclient'),
  );
  const page = await context.newPage();
  page.on('request', (request) => requests.push({ method: request.method(), url: request.url() }));
  page.on('pageerror', (error) => pageErrors.push(String(error)));

  await page.goto(`${baseUrl}/graphql`, { waitUntil: 'networkidle' });
  step = 'wait for GraphiQL';
  await page.locator('.graphiql-query-editor .CodeMirror').waitFor({ timeout: 15000 });
  const title = await page.title();

  // An editor is CodeMirror 5: click into it, select everything, type over it.
  const typeInto = async (selector, text) => {
    await page.locator(selector).click();
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    // Typed key by key, as a person would: the editor closes brackets and quotes itself and
    // types over them again, so what it holds is read back below, not assumed.
    await page.keyboard.type(text);
    await page.keyboard.press('Escape'); // close an autocompletion list, if one is open
    return page.locator(selector).evaluate((element) => element.CodeMirror.getValue());
  };
  // The first tab of a new browser holds the demo's example query.
  const defaultQuery = await page
    .locator('.graphiql-query-editor .CodeMirror')
    .evaluate((element) => element.CodeMirror.getValue());
  step = 'type the query';
  const queryText = await typeInto('.graphiql-query-editor .CodeMirror', QUERY);
  step = 'type the headers';
  // The tools pane holds the variables and the headers editors; the headers one is shown.
  const headersSelector = '.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror';
  await page.locator(headersSelector).waitFor({ timeout: 5000 });
  const headersText = await typeInto(headersSelector, HEADERS);

  step = 'open the Docs panel';
  // Without a reload: pasting the token must be enough for the schema (Docs, completion).
  await page.locator('button[aria-label="Show Documentation Explorer"]').click();
  const docs = page.locator('.graphiql-doc-explorer');
  await page.waitForFunction(
    () => {
      const panel = document.querySelector('.graphiql-doc-explorer');
      return panel && panel.querySelector('.graphiql-doc-explorer-root-type');
    },
    null,
    { timeout: 15000 },
  );
  const docsShown = await docs.innerText();

  step = 'run the query';
  await page.locator('.graphiql-execute-button').click();
  const response = page.locator('.graphiql-response .CodeMirror');
  await page.waitForFunction(
    () => {
      const editor = document.querySelector('.graphiql-response .CodeMirror');
      return editor && editor.CodeMirror.getValue().includes('"data"');
    },
    null,
    { timeout: 15000 },
  );
  const resultText = await response.evaluate((element) => element.CodeMirror.getValue());
  const resultShown = await page.locator('.graphiql-response').innerText();
  await page.screenshot({ path: screenshot });
  console.log(
    JSON.stringify({
      title,
      defaultQuery,
      queryText,
      headersText,
      docsShown,
      resultText,
      resultShown,
      requests,
      pageErrors,
    }),
  );
} catch (error) {
  await browser.contexts()[0]?.pages()[0]?.screenshot({ path: screenshot }).catch(() => {});
  console.error(`GraphiQL failed at "${step}": ${error.stack}`);
  console.error(`requests: ${JSON.stringify(requests)}\npage errors: ${JSON.stringify(pageErrors)}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
