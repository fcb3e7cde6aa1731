// Browser tests of the web UI: Debian's headless Chromium driven by playwright-core, envelopes
// checked with the official npm alipay-sdk. Usage: node run.mjs SIMULATOR_URL
// Prints one line per test and "N passed, N failed"; exits non-zero when any test fails.
import { chromium } from 'playwright-core';
import { AlipaySdk } from 'alipay-sdk';
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

const base = process.argv[2];
if (!base) {
  console.error('usage: node run.mjs SIMULATOR_URL');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});

// A backend under test: records what it receives, answers with the mobile it found.
const received = [];
const backend = http.createServer((request, response) => {
  let body = '';
  request.on('data', (chunk) => { body += chunk; });
  request.on('end', () => {
    received.push({ method: request.method, url: request.url, headers: request.headers, body });
    if (request.url === '/empty') {
      response.writeHead(204);
      response.end();
      return;
    }
    if (request.url === '/preview.html') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(previewPage);
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json', 'x-backend': 'test' });
    response.end(JSON.stringify({ ok: true, length: body.length }));
  });
});
await new Promise((resolve) => backend.listen(0, '127.0.0.1', resolve));
const backendUrl = `http://127.0.0.1:${backend.address().port}`;
let previewPage = '';

/** What a backend built on the official SDK concludes from an envelope. */
function sdkVerdict(envelopeText, alipayPublicKey, aesKey) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const sdk = new AlipaySdk({ appId: '2021000000000000', privateKey, alipayPublicKey, encryptKey: aesKey });
  const envelope = JSON.parse(envelopeText);
  if (!sdk.rsaCheck(`"${envelope.response}"`, envelope.sign, 'RSA2')) return { verdict: 'reject-signature' };
  return { verdict: 'accept', plaintext: JSON.parse(sdk.aesDecrypt(envelope.response)) };
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function newApp(page) {
  await page.goto(`${base}/`);
  await Promise.all([page.waitForURL(/\/apps\/[^/]+$/), page.click('text=Create an app')]);
  return new URL(page.url()).pathname.split('/')[2];
}

/** Creates a WeChat app from the dashboard's form; lands on its console. */
async function newWechatApp(page) {
  await page.goto(`${base}/`);
  await Promise.all([page.waitForURL(/\/wechat\/apps\/wx[0-9a-f]+$/), page.click('#create-wechat')]);
  return new URL(page.url()).pathname.split('/')[3];
}

/** Taps the WeChat device's phone button and answers the sheet; gives e.detail as shown. */
async function wechatTap(page, choice) {
  await page.click('#phone-button');
  check(await page.isVisible('#sheet'), 'the phone button opens the sheet');
  const before = await page.textContent('#detail');
  await page.click(choice === 'allow' ? '#allow' : '#deny');
  await page.waitForFunction((old) => document.getElementById('detail').textContent !== old, before);
  check(await page.isHidden('#sheet'), 'the sheet closes');
  return JSON.parse(await page.textContent('#detail'));
}

async function consoleKeys(page, appId) {
  await page.goto(`${base}/apps/${appId}`);
  return {
    alipayPublicKey: await page.inputValue('#alipay-public-key'),
    aesKey: await page.inputValue('#aes-key'),
  };
}

async function tap(page, appId, choice) {
  await page.goto(`${base}/apps/${appId}/device`);
  check(await page.isHidden('#sheet'), 'the consent sheet is closed before the tap');
  await page.click('#authorize');
  check(await page.isVisible('#sheet'), 'tapping 授权手机号 opens the consent sheet');
  await Promise.all([page.waitForURL(/call=\d+/), page.click(choice === 'allow' ? '#allow' : '#refuse')]);
}

/** Makes an app with a call sent to the backend; gives the URL of every page a user sees. */
async function everyPage(page) {
  const appId = await newApp(page);
  await tap(page, appId, 'allow');
  const call = new URL(page.url()).searchParams.get('call');
  await page.fill('#backend-url', `${backendUrl}/api/phone`);
  await Promise.all([page.waitForNavigation(), page.click('#send')]);
  // The longest words the pages show: a 40006 with its Chinese subMsg and URL, on the console,
  // the dashboard and in the journal.
  await fetch(`${base}/api/v1/apps/${appId}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"console":{"phone_application":"pending"}}' });
  await fetch(`${base}/api/v1/apps/${appId}/getPhoneNumber`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  // The user allowed on that app, so my.js would show no sheet there: another app shows it.
  const unauthorised = await newApp(page);
  const alipayPreview = `<!doctype html><html lang="en"><meta charset="utf-8"><title>A mini program's H5 preview</title>
    <script src="${base}/sdk/my.js" data-app-id="${unauthorised}"></script>
    <main><h1>Preview</h1><button id="login">登录</button><pre id="out"></pre></main>
    <script>document.getElementById('login').onclick = function () { my.getPhoneNumber({ success: function (res) { document.getElementById('out').textContent = res.response; } }); };</script></html>`;
  // A WeChat app with a tap, and its pages.
  const wechat = await newWechatApp(page);
  await fetch(`${base}/api/v1/wechat/apps/${wechat}/tap`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  const entry = (await journalOfWechat(wechat))[0].id;
  const wechatPreview = `<!doctype html><html lang="en"><meta charset="utf-8"><title>A WeChat mini program's H5 preview</title>
    <script src="${base}/sdk/wx.js?app_id=${wechat}"></script>
    <main><h1>Preview</h1><button id="phone">手机号快捷登录</button></main>
    <script>wx.simulator.phoneButton(document.getElementById('phone'), { bind: function () {} });</script></html>`;
  return [
    ['dashboard', `${base}/`],
    ['wechat console', `${base}/wechat/apps/${wechat}`],
    ['wechat device', `${base}/wechat/apps/${wechat}/device?entry=${entry}`],
    ['wechat sheet', `${base}/wechat/apps/${wechat}/device?sheet=open`],
    ['wx.js sheet', `${backendUrl}/preview.html`, async () => { previewPage = wechatPreview; await page.reload(); await page.click('#phone'); await page.waitForSelector('#wx-sim-sheet'); }],
    ['console', `${base}/apps/${appId}`],
    ['device', `${base}/apps/${appId}/device?call=${call}`],
    ['journal', `${base}/journal`],
    ['404', `${base}/no/such/page`],
    ['my.js sheet', `${backendUrl}/preview.html`, async () => { previewPage = alipayPreview; await page.reload(); await page.click('#login'); await page.waitForSelector('#alipay-sim-sheet'); }],
  ];
}

const widths = [1280, 390];
const schemes = ['light', 'dark'];
/** Where the focus is: the element's id (or data-choice) and whether it is inside `container`. */
async function focusIn(page, container) {
  return page.evaluate((selector) => {
    const active = document.activeElement;
    return { id: active.id || active.getAttribute('data-choice') || active.tagName, inside: !!active.closest(selector) };
  }, container);
}

/** Whether the element's top is on screen. */
/** Whether `selector`'s top is in the viewport within 2 s: a page lands on a fragment once it
 * has laid out, later than its URL changes on a loaded machine. */
async function inView(page, selector) {
  return page
    .waitForFunction((s) => {
      const box = document.querySelector(s).getBoundingClientRect();
      return box.top >= 0 && box.top < window.innerHeight;
    }, selector, { timeout: 2000 })
    .then(() => true, () => false);
}

/** Tab `n` times, then Shift+Tab `n` times: focus must stay inside `container` each time. */
async function tabAround(page, container, n) {
  for (const key of ['Tab', 'Shift+Tab']) {
    for (let i = 1; i <= n; i += 1) {
      await page.keyboard.press(key);
      const focus = await focusIn(page, container);
      check(focus.inside, `${key} ${i}: focus left the dialog for ${focus.id}`);
    }
  }
}

async function journalOfWechat(appId) {
  return (await fetch(`${base}/api/v1/wechat/journal?app_id=${appId}`)).json();
}

async function journalOf(appId) {
  return (await fetch(`${base}/api/v1/journal?app_id=${appId}`)).json();
}

const tests = {
  async 'a11y: axe-core finds no serious or critical violation on any page, at 1280 and 390 px, light and dark'(page) {
    const pages = await everyPage(page);
    const problems = [];
    for (const width of widths) {
      for (const colorScheme of schemes) {
        await page.setViewportSize({ width, height: 844 });
        await page.emulateMedia({ colorScheme });
        for (const [name, url, open] of pages) {
          await page.goto(url);
          if (open) await open();
          await page.addScriptTag({ path: axePath });
          const violations = await page.evaluate(async () => (await axe.run(document, { resultTypes: ['violations'] })).violations
            .filter((v) => v.impact === 'serious' || v.impact === 'critical')
            .map((v) => `${v.id} (${v.impact}) at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`));
          for (const v of violations) problems.push(`${name} ${width}px ${colorScheme}: ${v}`);
        }
      }
    }
    check(problems.length === 0, `\n  ${problems.join('\n  ')}`);
  },

  async 'layout: no page overflows sideways at 390 px, light or dark'(page) {
    const pages = await everyPage(page);
    const problems = [];
    await page.setViewportSize({ width: 390, height: 844 });
    for (const colorScheme of schemes) {
      await page.emulateMedia({ colorScheme });
      for (const [name, url, open] of pages) {
        await page.goto(url);
        if (open) await open();
        const { scroll, client, widest } = await page.evaluate(() => {
          const root = document.documentElement;
          // The element reaching furthest right, to say what overflows.
          let widest = '';
          let right = root.clientWidth;
          for (const element of document.body.querySelectorAll('*')) {
            const r = element.getBoundingClientRect().right;
            if (r > right + 0.5) { right = r; widest = `${element.tagName.toLowerCase()}${element.id ? '#' + element.id : ''}.${element.className}`; }
          }
          return { scroll: root.scrollWidth, client: root.clientWidth, widest };
        });
        if (scroll > client) problems.push(`${name} ${colorScheme}: ${scroll} px wide in ${client} (${widest})`);
      }
    }
    check(problems.length === 0, problems.join('; '));
  },

  async 'facts: a 40006 outcome is not styled as success on the console, dashboard, device or journal'(page) {
    const appId = await newApp(page);
    await page.selectOption('select[name=phone_application]', 'pending');
    await Promise.all([page.waitForNavigation(), page.click('#save')]);
    await tap(page, appId, 'allow');
    const call = new URL(page.url()).searchParams.get('call');
    const places = [
      ['console', `${base}/apps/${appId}`, '#outcome-facts'],
      ['dashboard', `${base}/`, `tr:has(code:text-is("${appId}")) .next-outcome`],
      ['device', `${base}/apps/${appId}/device?call=${call}`, '#call-facts'],
      ['journal', `${base}/journal?app_id=${appId}`, `#entry-${call} summary`],
    ];
    for (const [name, url, selector] of places) {
      await page.goto(url);
      const facts = await page.$eval(selector, (element) => {
        // The colour success is shown in, from an element styled as a phone number.
        const probe = document.createElement('span');
        probe.className = 'gets gets-phone';
        element.appendChild(probe);
        const success = getComputedStyle(probe).color;
        probe.remove();
        const coloured = [element, ...element.querySelectorAll('*')].filter((e) => getComputedStyle(e).color === success);
        return { text: element.textContent.replace(/\s+/g, ' ').trim(), gets: element.querySelector('[data-gets]')?.dataset.gets, success: coloured.map((e) => e.outerHTML.slice(0, 80)) };
      });
      check(facts.gets === 'business-error', `${name}: the page gets ${facts.gets}: ${facts.text}`);
      check(facts.text.includes('Business error 40006'), `${name}: ${facts.text}`);
      check(facts.success.length === 0, `${name}: in the colour of success: ${facts.success.join(' ')}`);
      check(!facts.text.includes('40006: 40006'), `${name}: the code twice: ${facts.text}`);
    }
    // A phone number is.
    await page.goto(`${base}/apps/${appId}`);
    await Promise.all([page.waitForNavigation(), page.click('text=Reset to fully configured')]);
    check(await page.getAttribute('#outcome-facts [data-gets]', 'data-gets') === 'phone', 'a fully configured app gives a phone number');
  },

  async 'console: withdrawing the phone-number application shows 40006, as the next call returns'(page) {
    const appId = await newApp(page);
    check((await page.textContent('#outcome-rule')).trim() === 'success', 'a new app succeeds');
    await page.selectOption('select[name=phone_application]', 'pending');
    await Promise.all([page.waitForLoadState('load'), page.click('#save')]);
    await page.waitForSelector('#outcome-summary');
    const summary = await page.textContent('#outcome-summary');
    check(summary.includes('40006'), `outcome shows 40006, got ${summary}`);
    const shownRule = (await page.textContent('#outcome-rule')).trim();
    const next = await (await fetch(`${base}/api/v1/apps/${appId}/getPhoneNumber`, { method: 'POST' })).json();
    check(next.expect.rule === shownRule, `the next call hits ${next.expect.rule}, the page showed ${shownRule}`);
    check(next.expect.plaintext.code === '40006', 'the next call answers 40006');
    // Every other setting was kept by the form.
    const app = await (await fetch(`${base}/api/v1/apps/${appId}`)).json();
    check(app.console.gateway === true && app.console.signing === 'RSA2' && app.user.mobile === '13800000000', 'the form keeps the other settings');
  },

  async 'console: a bad field keeps every other edited value and marks the field, with its message beside it'(page) {
    const appId = await newApp(page);
    await page.selectOption('select[name=phone_application]', 'pending');
    await page.uncheck('input[name=gateway]');
    await page.fill('input[name=client_version]', '10.2.0');
    await page.selectOption('select[name=fault]', 'missing-sign');
    await page.fill('input[name=mobile]', 'abc');
    const response = await Promise.all([page.waitForNavigation(), page.click('#save')]).then(([r]) => r);
    check(response.status() === 422, `status ${response.status()}`);
    // Every edit is still there, as typed.
    check(await page.inputValue('select[name=phone_application]') === 'pending', 'the application kept');
    check(!(await page.isChecked('input[name=gateway]')), 'the unchecked gateway kept');
    check(await page.inputValue('input[name=client_version]') === '10.2.0', 'the client version kept');
    check(await page.inputValue('select[name=fault]') === 'missing-sign', 'the fault kept');
    check(await page.inputValue('input[name=mobile]') === 'abc', 'the bad mobile kept, as typed');
    // The field is marked, its message right beside it, and the summary links to it.
    const mobile = page.locator('input[name=mobile]');
    check(await mobile.getAttribute('aria-invalid') === 'true', 'aria-invalid on the mobile');
    const describedBy = await mobile.getAttribute('aria-describedby');
    const message = page.locator(`[id="${describedBy}"]`);
    check(describedBy && await message.isVisible(), 'the message the field is described by is shown');
    check((await message.textContent()).includes('abc'), `the message names the value: ${await message.textContent()}`);
    const [field, text] = [await mobile.boundingBox(), await message.boundingBox()];
    check(text.y >= field.y + field.height - 1 && text.y - (field.y + field.height) < 30 && Math.abs(text.x - field.x) < 30, `the message is beside the field: ${JSON.stringify({ field, text })}`);
    check(await page.locator('[aria-invalid=true]').count() === 1, 'only the bad field is marked');
    const link = page.locator('#error-summary a[href="#f-mobile"]');
    check(await link.isVisible(), 'the summary links to the field');
    check(await page.getAttribute('#f-mobile', 'name') === 'mobile', 'the link\'s target is the mobile field');
    // Nothing was saved.
    const app = await (await fetch(`${base}/api/v1/apps/${appId}`)).json();
    check(app.console.phone_application === 'approved' && app.console.gateway === true, `the app changed: ${JSON.stringify(app.console)}`);
  },

  async 'console: reloading after a refused save loads a page, never a 405'(page) {
    const appId = await newApp(page);
    await page.fill('input[name=mobile]', 'abc');
    await Promise.all([page.waitForNavigation(), page.click('#save')]);
    check(new URL(page.url()).pathname === `/apps/${appId}/console`, `the URL after the refused save: ${page.url()}`);
    // Entering the URL again (or opening it later) is a GET.
    const response = await page.goto(page.url());
    check(response.status() === 200, `status ${response.status()}`);
    check(new URL(page.url()).pathname === `/apps/${appId}`, `lands on the console: ${page.url()}`);
    check(await page.isVisible('#console-form'), 'the console is shown');
    // Reload of that page too.
    const reloaded = await page.reload();
    check(reloaded.status() === 200 && await page.isVisible('#console-form'), `reload: ${reloaded.status()}`);
  },

  async 'console: the outcome panel previews the unsaved form, marked unsaved until Save'(page) {
    const appId = await newApp(page);
    check(await page.isHidden('#unsaved'), 'no unsaved marker on a fresh page');
    await page.selectOption('select[name=phone_application]', 'pending');
    await page.waitForFunction(() => document.getElementById('outcome-summary').textContent.includes('40006'), null, { timeout: 5000 });
    check(await page.isVisible('#unsaved'), 'the unsaved marker shows');
    check((await page.textContent('#unsaved-fields')).includes('Phone-number application'), `the changed field is named: ${await page.textContent('#unsaved-fields')}`);
    check(await page.locator('.field.changed select[name=phone_application]').count() === 1, 'the changed field is marked');
    let app = await (await fetch(`${base}/api/v1/apps/${appId}`)).json();
    check(app.console.phone_application === 'approved', 'the preview saved nothing');
    // A bad value in the preview: the field is marked, nothing else is lost.
    await page.fill('input[name=mobile]', 'abc');
    await page.waitForFunction(() => document.querySelector('input[name=mobile]').getAttribute('aria-invalid') === 'true', null, { timeout: 5000 });
    const describedBy = await page.getAttribute('input[name=mobile]', 'aria-describedby');
    check((await page.textContent(`[id="${describedBy}"]`)).includes('abc'), 'the message beside the field');
    check(await page.inputValue('select[name=phone_application]') === 'pending' && await page.inputValue('input[name=mobile]') === 'abc', 'the edits are kept');
    await page.fill('input[name=mobile]', '13800000000');
    await page.waitForFunction(() => !document.querySelector('input[name=mobile]').hasAttribute('aria-invalid'), null, { timeout: 5000 });
    check(await page.locator('.field-error').count() === 0 && await page.isHidden('#error-summary'), 'the error is gone once fixed');
    check((await page.textContent('#outcome-summary')).includes('40006'), 'the panel shows the fixed form\'s outcome');
    await Promise.all([page.waitForNavigation(), page.click('#save')]);
    check(await page.isHidden('#unsaved'), 'Save clears the marker');
    check((await page.textContent('#notice')).includes('Saved'), 'a notice says it is saved');
    check(!page.url().includes('notice='), `the address keeps no notice: ${page.url()}`);
    await page.reload();
    check(await page.locator('#notice').count() === 0, 'a reload does not repeat the notice');
    check((await page.textContent('#outcome-summary')).includes('40006'), 'the saved outcome');
    app = await (await fetch(`${base}/api/v1/apps/${appId}`)).json();
    check(app.console.phone_application === 'pending', 'saved');
  },

  async 'console: the scenario picker has a label and shows the applied scenario'(page) {
    const appId = await newApp(page);
    check((await page.locator('label:has(#scenario)').textContent()).includes('Catalogue scenario'), 'the picker is labelled');
    await page.selectOption('#scenario', 'phone-application-pending');
    await Promise.all([page.waitForNavigation(), page.click('#apply-scenario')]);
    check(await page.inputValue('#scenario') === 'phone-application-pending', `the picker shows ${await page.inputValue('#scenario')}`);
    check((await page.textContent('#notice')).includes('phone-application-pending'), 'a notice names the applied scenario');
    check(await page.inputValue('select[name=phone_application]') === 'pending', 'the console has its settings');
    // Edited by hand, no catalogue scenario applies any more.
    await page.fill('input[name=client_version]', '10.2.0');
    await Promise.all([page.waitForNavigation(), page.click('#save')]);
    check(await page.inputValue('#scenario') === '', 'no scenario selected after an edit');
    const shown = await page.$eval('#scenario', (s) => s.options[s.selectedIndex].textContent);
    check(shown.includes('custom settings'), `the picker says ${shown}`);
    const app = await (await fetch(`${base}/api/v1/apps/${appId}`)).json();
    check(app.user.client_version === '10.2.0', 'the edit was saved');
  },

  async 'console: at 390 px the outcome panel never covers the field being edited'(page) {
    await page.setViewportSize({ width: 390, height: 844 });
    await newApp(page);
    const panel = await page.locator('#outcome').boundingBox();
    check(panel.height < 844, `the panel's height ${panel.height}`);
    // Down the form and back up (as Tab and Shift+Tab go): a field scrolled to from below ends
    // at the top of the screen, where a sticky panel would be.
    const fields = ['select[name=account]', 'input[name=mobile]', 'select[name=fault]', 'select[name=busy]', 'input[name=refusal_message]'];
    for (const selector of [...fields, ...fields.slice(0, -1).reverse()]) {
      await page.focus(selector);
      const covered = await page.$eval(selector, (element) => {
        const box = element.getBoundingClientRect();
        const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
        const outcome = document.getElementById('outcome').getBoundingClientRect();
        return {
          visible: box.top >= 0 && box.bottom <= window.innerHeight,
          hit: hit === element || element.contains(hit),
          overlaps: outcome.bottom > box.top && outcome.top < box.bottom,
        };
      });
      check(covered.visible && covered.hit && !covered.overlaps, `${selector} when focused: ${JSON.stringify(covered)}`);
    }
  },

  async 'console: rotating keys asks first, then says what the backend needs'(page) {
    const appId = await newApp(page);
    const before = await page.inputValue('#aes-key');
    let asked = '';
    page.once('dialog', (dialog) => { asked = dialog.message(); dialog.dismiss(); });
    await page.click('#rotate-keys');
    await page.waitForTimeout(300);
    check(asked.includes('Rotate keys'), `the question: ${asked}`);
    check(await page.inputValue('#aes-key') === before && new URL(page.url()).search === '', 'cancelled: nothing rotated');
    page.once('dialog', (dialog) => dialog.accept());
    await Promise.all([page.waitForNavigation(), page.click('#rotate-keys')]);
    check((await page.textContent('#notice')).includes('Keys rotated: give your backend the new Alipay public key and AES key'), 'the notice');
    const keys = await (await fetch(`${base}/api/v1/apps/${appId}/keys`)).json();
    check(keys.aes_key !== before && await page.inputValue('#aes-key') === keys.aes_key, 'new keys, shown');
  },

  async 'console: "Copied" reverts to "Copy", and a long chosen option can be read whole at 390 px'(page) {
    await page.setViewportSize({ width: 390, height: 844 });
    await newApp(page);
    const copy = page.locator('button[data-copy=aes-key]');
    await copy.click();
    await page.waitForFunction(() => document.querySelector('button[data-copy=aes-key]').textContent === 'Copied', null, { timeout: 2000 });
    await page.waitForFunction(() => document.querySelector('button[data-copy=aes-key]').textContent === 'Copy', null, { timeout: 4000 });
    await page.selectOption('select[name=fault]', 'missing-sign');
    await page.selectOption('select[name=isv_app_id_missing]', 'missing-default-signature-type');
    await page.selectOption('select[name=environment]', 'iot-without-payment-password');
    // Each select's chosen words fit in it, or are shown whole beside it; and are its title.
    const unreadable = await page.$$eval('select', (selects) => selects.filter((select) => {
      const words = select.options[select.selectedIndex].textContent;
      const style = getComputedStyle(select);
      const context = document.createElement('canvas').getContext('2d');
      context.font = `${style.fontSize} ${style.fontFamily}`;
      const fits = context.measureText(words).width <= select.clientWidth - 32;
      const line = document.querySelector(`[data-chosen-for="${select.id}"]`);
      const shown = line && line.offsetParent !== null && line.textContent === words && line.getBoundingClientRect().right <= window.innerWidth;
      return select.title !== words || !(fits || shown);
    }).map((select) => `${select.name}: ${select.options[select.selectedIndex].textContent}`));
    check(unreadable.length === 0, `cut off: ${unreadable.join('; ')}`);
  },

  async 'device: tap, allow, and the official Node SDK accepts the envelope with the console keys'(page) {
    const appId = await newApp(page);
    const keys = await consoleKeys(page, appId);
    await tap(page, appId, 'allow');
    check((await page.textContent('#callback-sequence')).includes('success'), 'success callback');
    const envelope = (await page.textContent('#envelope')).trim();
    const result = sdkVerdict(envelope, keys.alipayPublicKey, keys.aesKey);
    check(result.verdict === 'accept', `the SDK says ${result.verdict}`);
    check(result.plaintext.code === '10000' && result.plaintext.mobile === '13800000000', `plaintext ${JSON.stringify(result.plaintext)}`);
    check((await page.textContent('#verdict')).trim() === 'accept', 'the page shows the oracle: accept');
    check((await page.textContent('#plaintext')).includes('13800000000'), 'the page shows the decrypted plaintext');
  },

  async 'device: tap, refuse, and onError receives its detail'(page) {
    const appId = await newApp(page);
    await tap(page, appId, 'refuse');
    check((await page.textContent('#callback-sequence')).includes('onError'), 'onError');
    const payload = JSON.parse(await page.textContent('#payload'));
    check(payload.detail.type === 'getAuthorize' && payload.detail.errorMessage, `detail ${JSON.stringify(payload)}`);
    check((await page.textContent('#verdict')).trim() === 'front-end', 'nothing reaches the backend');
  },

  async 'device: send to my backend, see its answer and the journal entry'(page) {
    const appId = await newApp(page);
    await tap(page, appId, 'allow');
    const envelope = (await page.textContent('#envelope')).trim();
    await page.fill('#backend-url', `${backendUrl}/api/phone`);
    await Promise.all([page.waitForLoadState('load'), page.click('#send')]);
    await page.waitForSelector('#backend-status');
    check((await page.textContent('#backend-status')).trim() === '200', 'status 200 shown');
    check(JSON.parse(await page.textContent('#backend-body')).ok === true, 'the body shown');
    check((await page.textContent('#backend-headers')).includes('x-backend: test'), 'the headers shown');
    const last = received.filter((r) => r.url === '/api/phone').pop();
    check(last && JSON.parse(last.body).response === envelope, 'the backend got {"response": <envelope>}');
    check(last.headers['content-type'] === 'application/json', 'as JSON');
    // The URL is remembered for the next call. The allow authorised the user: 授权手机号 now
    // calls at once, with no sheet.
    await page.goto(`${base}/apps/${appId}/device`);
    check(await page.isVisible('#authorised-note'), 'the page says the user authorised');
    await Promise.all([page.waitForURL(/call=\d+/), page.click('#authorize')]);
    check(await page.isHidden('#sheet'), 'no sheet once authorised');
    check((await page.inputValue('#backend-url')) === `${backendUrl}/api/phone`, 'the backend URL is remembered');
    // The journal shows the exchange, and picks up new calls without a reload.
    await page.goto(`${base}/journal?app_id=${appId}`);
    check((await page.textContent('#entries')).includes('sent to backend'), 'the journal marks the exchange');
    const before = await page.locator('details.entry').count();
    // The allows above authorised the user: revoke, so that the refusal gets its sheet again.
    await fetch(`${base}/api/v1/apps/${appId}/authorisation/revoke`, { method: 'POST' });
    await fetch(`${base}/api/v1/apps/${appId}/getPhoneNumber`, { method: 'POST', body: '{"action":"refuse"}' });
    await page.waitForFunction((n) => document.querySelectorAll('details.entry').length > n, before, { timeout: 10000 });
    check((await page.locator('details.entry').first().textContent()).includes('front-end'), 'the new call is on top');
  },

  async 'device: send to my backend in each transport shape, as the front end would'(page) {
    const appId = await newApp(page);
    await tap(page, appId, 'allow');
    const envelope = (await page.textContent('#envelope')).trim();
    const { response, sign } = JSON.parse(envelope);
    const shapes = await page.$$eval('#body-shape option', (options) => options.map((o) => o.value));
    check(JSON.stringify(shapes) === JSON.stringify(['json', 'form', 'raw', 'raw-json', 'raw-form', 'query', 'split-json', 'split-form']), `the page offers ${shapes}`);
    const sendAs = async (shape) => {
      await page.fill('#backend-url', `${backendUrl}/api/phone`);
      await page.selectOption('#body-shape', shape);
      await Promise.all([page.waitForLoadState('load'), page.click('#send')]);
      await page.waitForSelector('#backend-status');
      check((await page.textContent('#backend-sent')).includes(shape), `the page says it sent ${shape}`);
      return received.filter((r) => r.url.startsWith('/api/phone')).pop();
    };
    let last = await sendAs('raw-form');
    check(last.method === 'POST' && last.body === envelope, 'raw-form: the envelope text itself, not encoded');
    check(last.headers['content-type'] === 'application/x-www-form-urlencoded', 'raw-form: under a form content type');
    check((await page.textContent('#backend-must-do')).includes('read the raw body'), 'the page says what the backend must do');
    last = await sendAs('raw-json');
    check(last.body === envelope && last.headers['content-type'] === 'application/json', 'raw-json: the envelope as the JSON body');
    last = await sendAs('query');
    const query = new URL(last.url, backendUrl).searchParams;
    check(last.method === 'GET' && last.body === '' && query.get('response') === envelope, `query: GET with the envelope, got ${last.method} ${last.url}`);
    last = await sendAs('split-json');
    const split = JSON.parse(last.body);
    check(split.encryptedData === response && split.sign === sign, `split-json: the envelope split, got ${last.body}`);
    last = await sendAs('split-form');
    const form = new URLSearchParams(last.body);
    check(form.get('encryptedData') === response && form.get('sign') === sign, `split-form: the envelope split, got ${last.body}`);
    check((await page.inputValue('#body-shape')) === 'split-form', 'the shape is remembered with the URL');
  },

  async 'device: record a session and download it as a suite for alipay-sim play'(page) {
    const appId = await newApp(page);
    await page.goto(`${base}/apps/${appId}/device`);
    await Promise.all([page.waitForLoadState('load'), page.click('#recording-start')]);
    check((await page.textContent('#recording-state')).trim() === 'recording', 'recording starts');
    await tap(page, appId, 'allow');
    await page.fill('#backend-url', `${backendUrl}/api/phone`);
    await Promise.all([page.waitForLoadState('load'), page.click('#send')]);
    await page.waitForSelector('#backend-status');
    // The allow authorised the user: revoke, so that the refusal gets its sheet again.
    await fetch(`${base}/api/v1/apps/${appId}/authorisation/revoke`, { method: 'POST' });
    await tap(page, appId, 'refuse');
    check((await page.textContent('#recording-calls')).trim() === '2 calls', 'both taps are recorded');
    await Promise.all([page.waitForLoadState('load'), page.click('#recording-stop')]);
    check((await page.textContent('#recording')).includes('2 calls recorded, 1 sent to the backend'), 'the panel sums up the recording');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#recording-download')]);
    check(download.suggestedFilename() === `recorded-${appId}.json`, `file name ${download.suggestedFilename()}`);
    const suite = JSON.parse(await readFile(await download.path(), 'utf8'));
    check(suite.backend.url === `${backendUrl}/api/phone` && suite.keys.app_id === appId, 'the suite targets the backend, with the app\'s keys');
    check(suite.steps.length === 2, `two steps, got ${suite.steps.length}`);
    check(suite.steps[0].expect.status === 200 && suite.steps[0].expect.json.ok === true, `the backend's answer is expected again: ${JSON.stringify(suite.steps[0].expect)}`);
    check(suite.steps[1].action.kind === 'refuse' && suite.steps[1].expect === undefined, 'the refusal is a step of its own');
  },

  async 'sdk: /sdk/my.js gives a plain page my.getPhoneNumber with the consent sheet'(page) {
    const appId = await newApp(page);
    const keys = await consoleKeys(page, appId);
    previewPage = `<!doctype html><meta charset="utf-8">
      <script src="${base}/sdk/my.js" data-app-id="${appId}"></script>
      <button id="login">登录</button><pre id="out"></pre>
      <script>
        document.getElementById('login').onclick = function () {
          if (!my.canIUse('getPhoneNumber')) return;
          my.getPhoneNumber({
            success: function (res) { document.getElementById('out').textContent = JSON.stringify({ ok: res }); },
            fail: function (err) { document.getElementById('out').textContent = JSON.stringify({ err: err }); },
          });
        };
      </script>`;
    await page.goto(`${backendUrl}/preview.html`);
    check(await page.evaluate(() => my.canIUse('getPhoneNumber')), 'my.canIUse');
    await page.click('#login');
    await page.click('#alipay-sim-sheet [data-choice=consent]');
    await page.waitForFunction(() => document.getElementById('out').textContent.length > 0);
    const out = JSON.parse(await page.textContent('#out'));
    check(out.ok && typeof out.ok.response === 'string', `success(res) with res.response, got ${JSON.stringify(out)}`);
    const result = sdkVerdict(out.ok.response, keys.alipayPublicKey, keys.aesKey);
    check(result.verdict === 'accept' && result.plaintext.code === '10000', `the SDK says ${JSON.stringify(result)}`);
  },

  async 'sdk: my.getAuthCode logs in silently with auth_base, and auth_user shows a sheet: 同意 a code, 拒绝 fail 11, closed fail 3'(page) {
    const appId = await newApp(page);
    previewPage = `<!doctype html><meta charset="utf-8">
      <script src="${base}/sdk/my.js" data-app-id="${appId}"></script>
      <button id="base">静默</button><button id="user">授权</button><pre id="out"></pre>
      <script>
        const show = (what) => (res) => { document.getElementById('out').textContent = JSON.stringify({ [what]: res }); };
        document.getElementById('base').onclick = () => my.getAuthCode({ success: show('ok'), fail: show('err') });
        document.getElementById('user').onclick = () => my.getAuthCode({ scopes: 'auth_user', success: show('ok'), fail: show('err') });
      </script>`;
    await page.goto(`${backendUrl}/preview.html`);
    check(await page.evaluate(() => my.canIUse('getAuthCode')), 'my.canIUse("getAuthCode")');
    const result = async (button, choice) => {
      await page.evaluate(() => { document.getElementById('out').textContent = ''; });
      await page.click(button);
      if (choice === 'escape') {
        await page.waitForSelector('#alipay-sim-auth-sheet');
        await page.keyboard.press('Escape');
      } else if (choice) {
        await page.click(`#alipay-sim-auth-sheet [data-choice=${choice}]`);
      }
      await page.waitForFunction(() => document.getElementById('out').textContent.length > 0);
      return JSON.parse(await page.textContent('#out'));
    };
    const silent = await result('#base');
    check(await page.$('#alipay-sim-auth-sheet') === null, 'auth_base shows no sheet');
    check(silent.ok && silent.ok.authCode.length === 32 && silent.ok.authSuccessScopes[0] === 'auth_base', `auth_base: ${JSON.stringify(silent)}`);
    const allowed = await result('#user', 'allow');
    check(allowed.ok && allowed.ok.authSuccessScopes[0] === 'auth_user' && allowed.ok.authCode !== silent.ok.authCode, `同意: ${JSON.stringify(allowed)}`);
    const denied = await result('#user', 'deny');
    check(denied.err && denied.err.error === 11, `拒绝: ${JSON.stringify(denied)}`);
    const closed = await result('#user', 'escape');
    check(closed.err && closed.err.error === 3, `closed: ${JSON.stringify(closed)}`);
    // The journal has each page call, with the device session.
    const journal = await (await fetch(`${base}/api/v1/alipay/login-journal?app_id=${appId}`)).json();
    check(journal.length === 4 && journal.every((e) => e.call === 'my.getAuthCode' && e.device_session === 1), `login journal: ${JSON.stringify(journal)}`);
  },

  async 'sdk: my.request puts a GET\'s data in the query, my.httpRequest sends a string unencoded'(page) {
    const appId = await newApp(page);
    previewPage = `<!doctype html><meta charset="utf-8">
      <script src="${base}/sdk/my.js" data-app-id="${appId}"></script>
      <button id="login">登录</button><pre id="out"></pre>
      <script>
        const url = '${backendUrl}/api/phone';
        const call = (api, options) => new Promise((resolve) => my[api](Object.assign({ url, success: resolve, fail: resolve }, options)));
        document.getElementById('login').onclick = function () {
          my.getPhoneNumber({
            success: async function (res) {
              await call('request', { data: { response: res.response } });
              await call('request', { method: 'POST', data: res.response });
              await call('httpRequest', { method: 'POST', data: res.response });
              document.getElementById('out').textContent = res.response;
            },
          });
        };
      </script>`;
    await page.goto(`${backendUrl}/preview.html`);
    check(await page.evaluate(() => my.canIUse('httpRequest')), 'my.canIUse("httpRequest")');
    const before = received.length;
    await page.click('#login');
    await page.click('#alipay-sim-sheet [data-choice=consent]');
    await page.waitForFunction(() => document.getElementById('out').textContent.length > 0);
    const envelope = await page.textContent('#out');
    const [get, post, old] = received.slice(before).filter((r) => r.url.startsWith('/api/phone'));
    check(get.method === 'GET' && new URL(get.url, backendUrl).searchParams.get('response') === envelope, `my.request GET: ${get.method} ${get.url}`);
    check(get.headers['content-type'] === undefined, 'a GET has no content type');
    check(post.body === envelope && post.headers['content-type'] === 'application/json', 'my.request POST data: res.response sends the text as JSON');
    check(old.body === envelope && old.headers['content-type'] === 'application/x-www-form-urlencoded', 'my.httpRequest sends the text unencoded under a form type');
  },

  async 'device: the consent sheet works by keyboard alone: Enter opens it, Tab stays inside, Escape closes it, Enter allows'(page) {
    const appId = await newApp(page);
    await page.goto(`${base}/apps/${appId}/device`);
    await page.focus('#authorize');
    await page.keyboard.press('Enter');
    check(await page.isVisible('#sheet'), 'Enter on 授权手机号 opens the sheet');
    const dialog = page.locator('#sheet [role=dialog]');
    check((await dialog.getAttribute('aria-modal')) === 'true', 'the sheet is a modal dialog');
    check((await page.textContent(`#${await dialog.getAttribute('aria-labelledby')}`)).includes('授权提示'), 'labelled by its title');
    check((await page.textContent('#sheet')).includes('138****0000'), 'the sheet shows the masked number');
    check((await focusIn(page, '#sheet')).id === 'allow', 'focus moves to 允许');
    await tabAround(page, '#sheet', 7);
    check(await page.evaluate(() => !!document.getElementById('result').closest('[inert]')), 'the page behind is inert');
    await page.keyboard.press('Escape');
    check(await page.isHidden('#sheet'), 'Escape closes the sheet');
    check((await focusIn(page, 'body')).id === 'authorize', 'focus returns to 授权手机号');
    check(await page.evaluate(() => !document.querySelector('[inert]')), 'the page is usable again');
    // A click on the backdrop closes it too.
    await page.keyboard.press('Enter');
    check(await page.isVisible('#sheet'), 'Enter opens it again');
    const backdrop = await page.locator('#sheet').boundingBox();
    await page.mouse.click(backdrop.x + backdrop.width / 2, backdrop.y + 10);
    check(await page.isHidden('#sheet'), 'a click on the backdrop closes the sheet');
    check(!page.url().includes('call=') && (await journalOf(appId)).length === 0, 'closing the sheet makes no call');
    // Reopen and allow with Enter alone.
    check((await focusIn(page, 'body')).id === 'authorize', 'focus is back on 授权手机号');
    await page.keyboard.press('Enter');
    check((await focusIn(page, '#sheet')).id === 'allow', 'focus is on 允许 again');
    await Promise.all([page.waitForURL(/call=\d+#call$/), page.keyboard.press('Enter')]);
    check((await page.textContent('#callback-sequence')).includes('onGetAuthorize(e), then my.getPhoneNumber success(res)'), 'Enter allowed');
    check((await journalOf(appId)).length === 1, 'one call was made');
    check(await inView(page, '#call'), 'the page lands on the call');
  },

  async 'device: my.getPhoneNumber without the button gets success(res) directly, with no onGetAuthorize'(page) {
    const appId = await newApp(page);
    await page.goto(`${base}/apps/${appId}/device`);
    await Promise.all([page.waitForURL(/call=\d+/), page.click('#no-consent')]);
    for (const selector of ['#callback-sequence', '#phone-callbacks']) {
      const text = await page.textContent(selector);
      check(text.startsWith('my.getPhoneNumber success(res)') && !text.includes('onGetAuthorize'), `${selector}: ${text}`);
    }
    const payload = JSON.parse(await page.textContent('#payload'));
    check(typeof payload.response === 'string', `success(res) gets res.response: ${JSON.stringify(payload)}`);
    check((await page.textContent('#plaintext')).includes('40003'), 'the envelope holds 40003');
  },

  async 'device: an unreachable backend is worded as a failure, with the request that was sent'(page) {
    const appId = await newApp(page);
    await tap(page, appId, 'allow');
    const envelope = (await page.textContent('#envelope')).trim();
    await page.fill('#backend-url', 'http://127.0.0.1:1/api/phone');
    await Promise.all([page.waitForURL(/#backend-answer$/), page.click('#send')]);
    const answer = await page.textContent('#exchange-1');
    check(answer.includes('Your backend did not answer') && !(await page.textContent('#result')).includes('Your backend answered'), `worded as a failure: ${answer}`);
    check(/connection refused/i.test(await page.textContent('#backend-error')), `the reason: ${await page.textContent('#backend-error')}`);
    const line = await page.textContent('#backend-request-line');
    check(line.includes('POST http://127.0.0.1:1/api/phone') && line.includes('Content-Type: application/json'), `the request: ${line}`);
    const body = await page.textContent('#backend-request');
    check(body.includes('\n  "response"') && JSON.parse(body).response === envelope, `the body sent, pretty-printed: ${body}`);
    const emptyBoxes = await page.$$eval('#result pre', (boxes) => boxes.filter((box) => box.textContent.trim() === '').length);
    check(emptyBoxes === 0, `${emptyBoxes} empty boxes`);
    check(await inView(page, '#backend-answer'), 'the page lands on the answer');
  },

  async 'device: a call sent twice shows both exchanges, newest first, and lands on them at 390 px'(page) {
    await page.setViewportSize({ width: 390, height: 844 });
    const appId = await newApp(page);
    await tap(page, appId, 'allow');
    check(await inView(page, '#call'), 'after the tap the page lands on the call');
    const call = new URL(page.url()).searchParams.get('call');
    await page.fill('#backend-url', `${backendUrl}/api/phone`);
    await Promise.all([page.waitForURL(/#backend-answer$/), page.click('#send')]);
    await page.fill('#backend-url', `${backendUrl}/empty`);
    await page.selectOption('#body-shape', 'raw-json');
    await Promise.all([page.waitForURL(/#backend-answer$/), page.click('#send')]);
    const ids = await page.$$eval('.exchange', (items) => items.map((item) => item.id));
    check(JSON.stringify(ids) === '["exchange-2","exchange-1"]', `two exchanges, newest first: ${ids}`);
    check((await page.textContent('#backend-answer')).includes('2 exchanges'), 'the heading counts them');
    check(await inView(page, '#backend-answer'), 'the page lands on the exchanges');
    const newest = await page.textContent('#exchange-2');
    check(newest.includes('raw-json') && newest.includes('status 204') && newest.includes('(empty body)'), `the newest: ${newest}`);
    const first = await page.textContent('#exchange-1');
    check(first.includes('status 200') && first.includes('"ok": true'), `the first, its JSON pretty-printed: ${first}`);
    const entry = (await journalOf(appId)).find((e) => String(e.id) === call);
    check(entry.exchanges.length === 2 && entry.backend.body_shape === 'raw-json', `the journal keeps both: ${JSON.stringify(entry.exchanges.map((e) => e.url))}`);
    await page.goto(`${base}/journal?app_id=${appId}`);
    const listed = await page.textContent('#entries');
    check(listed.includes('Backend exchange 1 of 2') && listed.includes('Backend exchange 2 of 2'), 'the journal page lists both');
  },

  async 'sdk: the my.js sheet works by keyboard alone, shows the masked number, and closing it calls nothing'(page) {
    const appId = await newApp(page);
    previewPage = `<!doctype html><meta charset="utf-8">
      <script src="${base}/sdk/my.js" data-app-id="${appId}"></script>
      <button id="login">登录</button><a href="#top" id="behind">a link behind</a><pre id="out"></pre>
      <script>
        window.results = [];
        document.getElementById('login').onclick = function () {
          my.getPhoneNumber({
            success: function (res) { results.push({ ok: res }); document.getElementById('out').textContent = 'done'; },
            fail: function (err) { results.push({ err: err }); document.getElementById('out').textContent = 'done'; },
          });
        };
      </script>`;
    await page.goto(`${backendUrl}/preview.html`);
    check(await page.evaluate(() => typeof alipaySimDialog === 'undefined'), 'my.js adds no global but my');
    await page.focus('#login');
    await page.keyboard.press('Enter');
    const dialog = page.locator('#alipay-sim-sheet [role=dialog]');
    await dialog.waitFor();
    check((await dialog.getAttribute('aria-modal')) === 'true', 'a modal dialog');
    check((await page.textContent(`#${await dialog.getAttribute('aria-labelledby')}`)) === '授权提示', 'labelled by its title');
    check((await dialog.textContent()).includes('138****0000'), 'the sheet shows the masked number');
    check((await focusIn(page, '#alipay-sim-sheet')).id === 'consent', 'focus moves to 允许');
    await tabAround(page, '#alipay-sim-sheet', 7);
    check(await page.evaluate(() => document.getElementById('behind').inert), 'the page behind is inert');
    await page.keyboard.press('Escape');
    await page.locator('#alipay-sim-sheet').waitFor({ state: 'detached' });
    check((await focusIn(page, 'body')).id === 'login', 'focus returns to the button');
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await page.mouse.click(10, 10);
    await page.locator('#alipay-sim-sheet').waitFor({ state: 'detached' });
    await page.waitForTimeout(300);
    check((await page.evaluate(() => window.results.length)) === 0, 'closing the sheet fires no callback');
    check((await journalOf(appId)).length === 0, 'closing the sheet makes no call');
    check(await page.evaluate(() => !document.querySelector('[inert]')), 'the page is usable again');
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    check((await focusIn(page, '#alipay-sim-sheet')).id === 'consent', 'focus is on 允许 again');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => window.results.length > 0);
    const results = await page.evaluate(() => window.results);
    check(results.length === 1 && typeof results[0].ok.response === 'string', `Enter allowed: ${JSON.stringify(results)}`);
  },

  async 'sdk: my.js with an unknown data-app-id fails naming the app, and shows no sheet'(page) {
    const errors = [];
    page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
    previewPage = `<!doctype html><meta charset="utf-8">
      <script src="${base}/sdk/my.js" data-app-id="no-such-app"></script>
      <button id="login">登录</button><pre id="out"></pre>
      <script>
        document.getElementById('login').onclick = function () {
          my.getPhoneNumber({
            success: function (res) { document.getElementById('out').textContent = JSON.stringify({ ok: res }); },
            fail: function (err) { document.getElementById('out').textContent = JSON.stringify({ err: err }); },
          });
        };
      </script>`;
    await page.goto(`${backendUrl}/preview.html`);
    await page.click('#login');
    await page.waitForFunction(() => document.getElementById('out').textContent.length > 0);
    const out = JSON.parse(await page.textContent('#out'));
    check(out.err && out.err.error && out.err.errorMessage.includes('has no app "no-such-app"'), `fail(err) names the app: ${JSON.stringify(out)}`);
    check((await page.locator('#alipay-sim-sheet').count()) === 0, 'no sheet is shown');
    check(errors.some((text) => text.includes('has no app "no-such-app"')), `console.error says so: ${errors}`);
  },

  async 'wechat device: the sheet shows the masked number, and 允许 gives getPhoneNumber:ok with a code'(page) {
    const appId = await newWechatApp(page);
    await page.goto(`${base}/wechat/apps/${appId}/device`);
    check(await page.isHidden('#sheet'), 'the sheet is closed before the tap');
    await page.click('#phone-button');
    const dialog = page.locator('#sheet [role=dialog]');
    check((await dialog.getAttribute('aria-modal')) === 'true', 'the sheet is a modal dialog');
    check((await page.textContent('#sheet')).includes('120****0001'), 'the sheet shows the masked number');
    check((await focusIn(page, '#sheet')).id === 'allow', 'focus moves to 允许');
    await page.keyboard.press('Escape');
    check(await page.isHidden('#sheet') && (await journalOfWechat(appId)).length === 0, 'Escape closes the sheet without a call');
    const detail = await wechatTap(page, 'allow');
    check(detail.errMsg === 'getPhoneNumber:ok' && typeof detail.code === 'string' && detail.code.length > 0, `e.detail: ${JSON.stringify(detail)}`);
    check(detail.encryptedData && detail.iv, 'the legacy payload comes with the code');
    check((await page.textContent('#handler')).includes('bindgetphonenumber'), 'the handler is named');
    check((await page.textContent('#verdict')) === 'accept' && (await page.textContent('#plaintext')).includes('12066600001'), 'the oracle accepts and shows the number');
    const journal = await journalOfWechat(appId);
    check(journal.length === 1 && journal[0].call === 'tap' && journal[0].answer.code === detail.code, `one tap journalled: ${JSON.stringify(journal.map((e) => e.call))}`);
  },

  async 'wechat device: 拒绝 gives getPhoneNumber:fail:user deny (DevTools: no second colon), privacy disagree errno 104, wx.login in the handler reject-decrypt'(page) {
    const appId = await newWechatApp(page);
    await page.goto(`${base}/wechat/apps/${appId}/device`);
    let detail = await wechatTap(page, 'deny');
    check(detail.errMsg === 'getPhoneNumber:fail:user deny' && detail.code === undefined, `on a phone: ${JSON.stringify(detail)}`);
    check((await page.textContent('#verdict')) === 'front-end', 'nothing for a backend');
    await page.check('#tap-devtools');
    detail = await wechatTap(page, 'deny');
    check(detail.errMsg === 'getPhoneNumber:fail user deny', `in DevTools: ${JSON.stringify(detail)}`);
    await page.click('#phone-button');
    await page.check('#privacy-disagree');
    await page.click('#allow');
    await page.waitForFunction(() => document.getElementById('detail').textContent.includes('privacy'));
    detail = JSON.parse(await page.textContent('#detail'));
    check(detail.errno === 104, `privacy disagreed: ${JSON.stringify(detail)}`);
    // wx.login inside the handler: the oracle refuses the payload and names the pitfall.
    await page.uncheck('#tap-devtools');
    await page.check('#tap-login-in-callback');
    detail = await wechatTap(page, 'allow');
    check(detail.errMsg === 'getPhoneNumber:ok', `allowed: ${JSON.stringify(detail)}`);
    check((await page.textContent('#verdict')) === 'reject-decrypt' && (await page.textContent('#rule')) === 'wechat.login-in-callback', `the pitfall: ${await page.textContent('#rule')}`);
    check(await page.isVisible('#login-after'), 'the handler\'s login code is shown');
    // wx.login in place.
    await page.click('#wx-login');
    await page.waitForFunction(() => document.getElementById('detail').textContent.includes('login:ok'));
    check(JSON.parse(await page.textContent('#detail')).code, 'wx.login gives a code');
  },

  async 'wechat device: without JavaScript the phone button and the sheet work as forms'(page) {
    const appId = await newWechatApp(page);
    const context = await browser.newContext({ javaScriptEnabled: false });
    try {
      const plain = await context.newPage();
      await plain.goto(`${base}/wechat/apps/${appId}/device`);
      await plain.check('#tap-devtools');
      await Promise.all([plain.waitForURL(/sheet=open/), plain.click('#phone-button')]);
      check(await plain.isVisible('#sheet'), 'the sheet is open');
      await Promise.all([plain.waitForURL(/entry=\d+/), plain.click('#deny')]);
      const detail = JSON.parse(await plain.textContent('#detail'));
      check(detail.errMsg === 'getPhoneNumber:fail user deny', `DevTools kept: ${JSON.stringify(detail)}`);
      check(await plain.isChecked('#tap-devtools'), 'the options are kept');
      await Promise.all([plain.waitForURL(/entry=\d+/), plain.click('#wx-login')]);
      check((await plain.textContent('#detail')).includes('login:ok'), 'wx.login as a form');
    } finally {
      await context.close();
    }
  },

  async 'wechat console: saves a change, and refuses a bad value with its message beside the field'(page) {
    const appId = await newWechatApp(page);
    check((await page.textContent('#appid')) === appId && (await page.textContent('#secret')).length === 32, 'appid and secret shown');
    await page.fill('input[name=phone]', '12066600002');
    await page.fill('input[name=quota_left]', 'lots');
    const [response] = await Promise.all([page.waitForNavigation(), page.click('#save')]);
    check(response.status() === 422, `status ${response.status()}`);
    check(await page.inputValue('input[name=phone]') === '12066600002' && await page.inputValue('input[name=quota_left]') === 'lots', 'the edits are kept as typed');
    const quota = page.locator('input[name=quota_left]');
    check(await quota.getAttribute('aria-invalid') === 'true', 'the field is marked');
    const message = page.locator(`[id="${await quota.getAttribute('aria-describedby')}"]`);
    check(await message.isVisible() && (await message.textContent()).includes('lots'), `the message beside it: ${await message.textContent()}`);
    check(await page.locator('#error-summary a[href="#f-quota_left"]').isVisible(), 'the summary links to it');
    let app = await (await fetch(`${base}/api/v1/wechat/apps/${appId}`)).json();
    check(app.user.phone === '12066600001' && app.console.quota_left === 1000, 'nothing saved');
    await page.fill('input[name=quota_left]', '0');
    await Promise.all([page.waitForNavigation(), page.click('#save')]);
    check((await page.textContent('#notice')).includes('Saved'), 'saved');
    app = await (await fetch(`${base}/api/v1/wechat/apps/${appId}`)).json();
    check(app.user.phone === '12066600002' && app.console.quota_left === 0 && app.console.verified === true, `saved: ${JSON.stringify(app.console)}`);
    // Out of quota: the device's tap says so.
    await page.goto(`${base}/wechat/apps/${appId}/device`);
    const detail = await wechatTap(page, 'allow');
    check(detail.errno === 1400001, `no quota: ${JSON.stringify(detail)}`);
  },

  async 'wechat sdk: wx.js on a page of another origin gets a login code and a tap\'s detail'(page) {
    const appId = await newWechatApp(page);
    previewPage = `<!doctype html><meta charset="utf-8">
      <script src="${base}/sdk/wx.js?app_id=${appId}"></script>
      <button id="phone">手机号快捷登录</button><pre id="out"></pre>
      <script>
        window.results = {};
        wx.login({ success: function (res) {
          results.login = res;
          wx.request({ url: '${backendUrl}/api/login', method: 'POST', data: { code: res.code }, success: function (r) { results.request = r; } });
        } });
        wx.checkSession({ success: function (res) { results.check = res; }, fail: function (err) { results.check = err; } });
        wx.simulator.phoneButton(document.getElementById('phone'), { type: 'getPhoneNumber', bind: function (e) { results.phone = e; } });
      </script>`;
    const before = received.length;
    await page.goto(`${backendUrl}/preview.html`);
    await page.waitForFunction(() => window.results.login && window.results.check && window.results.request);
    const results = await page.evaluate(() => window.results);
    check(results.login.errMsg === 'login:ok' && results.login.code.length > 0, `wx.login: ${JSON.stringify(results.login)}`);
    check(results.check.errMsg.startsWith('checkSession:'), `wx.checkSession: ${JSON.stringify(results.check)}`);
    check(results.request.statusCode === 200 && results.request.errMsg === 'request:ok', `wx.request: ${JSON.stringify(results.request)}`);
    const sent = received.slice(before).find((r) => r.url === '/api/login');
    check(sent && JSON.parse(sent.body).code === results.login.code, 'wx.request posted the code as JSON');
    check(await page.evaluate(() => typeof alipaySimDialog === 'undefined' && typeof wxSimSheet === 'undefined'), 'wx.js adds no global but wx');
    await page.click('#phone');
    const sheet = page.locator('#wx-sim-sheet [role=dialog]');
    await sheet.waitFor();
    check((await sheet.textContent()).includes('120****0001'), 'the sheet shows the masked number');
    await page.click('#wx-sim-sheet [data-choice=allow]');
    await page.waitForFunction(() => window.results.phone);
    const phone = await page.evaluate(() => window.results.phone);
    check(phone.type === 'getphonenumber' && phone.detail.errMsg === 'getPhoneNumber:ok' && phone.detail.code.length > 0, `bind got: ${JSON.stringify(phone)}`);
  },

  async 'security: a page of another origin cannot create an app, post a form or read keys'(page) {
    const appId = await newApp(page);
    const appsBefore = await (await fetch(`${base}/api/v1/apps`)).json();
    previewPage = `<!doctype html><meta charset="utf-8"><pre id="out"></pre>
      <script>
        (async function () {
          const results = {};
          // A "simple" request: the browser sends it without asking first.
          await fetch('${base}/api/v1/apps', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{"app_id":"planted-by-a-page"}' }).catch(() => {});
          // A form post to the device page's send, as a hidden form would make it.
          await fetch('${base}/apps/${appId}/console', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'account=personal' }).catch(() => {});
          for (const path of ['/api/v1/apps/${appId}/keys', '/api/v1/journal', '/apps/${appId}/recording/suite.json']) {
            try { await (await fetch('${base}' + path)).text(); results[path] = 'read'; } catch (e) { results[path] = 'blocked'; }
          }
          try {
            await (await fetch('${base}/api/v1/apps/${appId}', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"console":{"gateway":false}}' })).text();
            results.patch = 'sent';
          } catch (e) { results.patch = 'blocked'; }
          document.getElementById('out').textContent = JSON.stringify(results);
        })();
      </script>`;
    await page.goto(`${backendUrl}/preview.html`);
    await page.waitForFunction(() => document.getElementById('out').textContent.length > 0);
    const results = JSON.parse(await page.textContent('#out'));
    for (const [what, result] of Object.entries(results)) check(result === 'blocked', `${what}: ${result}`);
    const appsAfter = await (await fetch(`${base}/api/v1/apps`)).json();
    check(appsAfter.length === appsBefore.length, `apps ${appsBefore.length} -> ${appsAfter.length}`);
    const app = await (await fetch(`${base}/api/v1/apps/${appId}`)).json();
    check(app.console.account === 'enterprise' && app.console.gateway === true, `the app changed: ${JSON.stringify(app.console)}`);
  },
};

let passed = 0;
let failed = 0;
// BROWSER_TESTS=text runs only the tests whose names contain it (while working on them).
const only = process.env.BROWSER_TESTS;
for (const [name, test] of Object.entries(tests)) {
  if (only && !name.includes(only)) continue;
  const context = await browser.newContext({ viewport: { width: 1200, height: 1000 }, acceptDownloads: true });
  const page = await context.newPage();
  try {
    await test(page);
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${name}: ${error.message}`);
  } finally {
    await context.close();
  }
}
await browser.close();
backend.close();
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
