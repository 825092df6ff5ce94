// End-to-end tests of the kiosk page in a real browser (Debian Chromium) against the real
// simgate binary: every scenario runs at kiosk portrait (1080x1920) and phone (390x844) size and
// saves a screenshot of each step under web-tests/artifacts/<layout>/.

import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { FACES, VIEWPORTS, openKiosk, shot } from "../lib/browser.js";
import { startServer } from "../lib/server.js";

// The valid test passport of services/api/tests/support/mod.rs `valid_mrz()` (ERIKSSON, born
// 1990-08-12, expires 2034-12-31), whose holder is the person of person_a_1.jpg.
const MRZ = "P<UTOERIKSSON<<ANNA<<<<<<<<<<<<<<<<<<<<<<<<<\nL898902C36UTO9008124F3412318ZE184226B<<<<<16";
const ICCID = "8923000000000000005";
const MATCHING_ID = "QR-G-5C-1LS-1W1Z9P7";
const SMDP = "smdp.example.com";
const STEP_TIMEOUT = 30_000;

let server;
let msisdnCounter = 0;
/** A fresh subscriber number per flow (SMS send limits are per number). */
const nextMsisdn = () => `+2305700${String(1000 + (msisdnCounter += 1))}`;
let eidCounter = 0;
/**
 * A fresh device per flow: the server's risk rules rightly send the fifth verification of one
 * EID in a day to review. 30 digits, then ISO 7064 MOD 97-10 check digits (GSMA SGP.29).
 */
const nextEid = () => {
  const body = `890490321234512345123456${String(100000 + (eidCounter += 1)).slice(-6)}`;
  const remainder = Number(BigInt(`${body}00`) % 97n);
  return `${body}${String(98 - remainder).padStart(2, "0")}`;
};

before(async () => {
  server = await startServer();
});

after(async () => {
  if (server) await server.stop();
});

const visible = (page, selector) => page.locator(selector).waitFor({ state: "visible", timeout: STEP_TIMEOUT });

/** Opens the page with the key in the fragment, starts a kiosk session, lands on the document. */
async function startSession(page, layout, prefix, msisdn, channel = "kiosk") {
  await page.goto(`${server.url}/kiosk#key=${encodeURIComponent(server.key)}`);
  await visible(page, "#screen-start");
  // The key was read and removed from the address bar; it lives in sessionStorage only.
  assert.equal(new URL(page.url()).hash, "");
  assert.ok(!page.url().includes(server.key));
  assert.equal(await page.evaluate(() => sessionStorage.getItem("simgate.kiosk.key")), server.key);
  const start = page.locator("#screen-start");
  await start.locator(`input[name=channel][value=${channel}]`).check();
  await start.getByLabel("Mobile number").fill(msisdn);
  await start.getByLabel("EID of the phone").fill(nextEid());
  await start.getByLabel("ICCID").fill(ICCID);
  await start.getByLabel("Matching ID").fill(MATCHING_ID);
  await start.getByLabel("SM-DP+ address").fill(SMDP);
  await start.getByLabel("I agree to my identity document being checked").check();
  await shot(page, layout, `${prefix}-01-start`);
  await page.getByRole("button", { name: "Start", exact: true }).click();
  await visible(page, "#screen-document");
  // Only the steps the session requires, in order, then activation.
  const steps = await page.locator("#progress li").evaluateAll((items) => items.map((li) => li.dataset.step));
  assert.deepEqual(steps, ["document", "selfie", "otp", "done"]);
  assert.equal(await page.evaluate(() => document.activeElement.id), "document-title");
  await shot(page, layout, `${prefix}-02-document`);
}

async function passDocument(page, layout, prefix) {
  await page.locator("#document-file").setInputFiles(path.join(FACES, "person_a_1.jpg"));
  await page.locator("#mrz").fill(MRZ);
  await visible(page, "#document-thumb");
  await shot(page, layout, `${prefix}-03-document-ready`);
  await page.getByRole("button", { name: "Send the document" }).click();
  await visible(page, "#screen-selfie");
  // The camera preview is live before the selfie is taken.
  await page.waitForFunction(() => document.getElementById("selfie-video").readyState >= 2, null, {
    timeout: STEP_TIMEOUT,
  });
  await shot(page, layout, `${prefix}-04-selfie`);
}

async function takeSelfie(page) {
  await page.getByRole("button", { name: "Take my selfie" }).click();
}

/** Asks for an SMS code and returns it (read from the dev sink). */
async function requestSmsCode(page, msisdn) {
  await visible(page, "#screen-otp");
  await page.getByRole("button", { name: "Send me a code" }).click();
  await visible(page, "#otp-verify-form");
  const { code } = await server.smsCode(msisdn);
  return code;
}

async function enterCode(page, code) {
  await page.getByLabel("Code", { exact: true }).fill(code);
  await page.getByRole("button", { name: "Confirm the code" }).click();
}

async function activate(page, layout, prefix) {
  await visible(page, "#screen-approved");
  await shot(page, layout, `${prefix}-07-approved`);
  await page.getByRole("button", { name: "Activate my eSIM" }).click();
  await visible(page, "#screen-activated");
  const qr = page.locator("#activation-qr");
  await qr.waitFor({ state: "visible" });
  assert.ok(await qr.evaluate((img) => img.complete && img.naturalWidth > 0), "the QR code PNG renders");
  assert.equal(await qr.getAttribute("alt"), "QR code to install the eSIM profile");
  assert.equal(await page.locator("#activation-code").textContent(), `LPA:1$${SMDP}$${MATCHING_ID}`);
  await shot(page, layout, `${prefix}-08-activated`);
}

for (const layout of Object.keys(VIEWPORTS)) {
  describe(`kiosk page at ${layout} size`, () => {
    test("(a) approved kiosk flow ends with the activation QR code", async () => {
      const { browser, page, problems } = await openKiosk({ photo: "person_a_2.jpg", layout });
      try {
        const msisdn = nextMsisdn();
        await startSession(page, layout, "a", msisdn);
        await passDocument(page, layout, "a");
        await takeSelfie(page);
        await visible(page, "#screen-otp");
        assert.equal(await page.evaluate(() => document.activeElement.id), "otp-title");
        await shot(page, layout, "a-05-otp");
        const code = await requestSmsCode(page, msisdn);
        await page.getByLabel("Code", { exact: true }).fill(code);
        await shot(page, layout, "a-06-otp-code");
        await page.getByRole("button", { name: "Confirm the code" }).click();
        await activate(page, layout, "a");
        // The subscriber, just verified, checks what the carrier knows about their number.
        await page.getByRole("button", { name: "Check my account security" }).click();
        await visible(page, "#security-check");
        assert.equal(await page.evaluate(() => document.activeElement.id), "security-title");
        const advice = await page.locator("#security-advice li").allTextContents();
        assert.ok(advice.some((text) => text.startsWith("Nothing unusual was found")), advice.join(" | "));
        assert.ok(advice.some((text) => text.startsWith("Never share a code")), advice.join(" | "));
        const intro = await page.locator("#security-intro").textContent();
        assert.ok(intro.includes(`${msisdn.slice(-2)}`) && !intro.includes(msisdn), intro);
        const mine = await page.locator("#security-verifications li.current").allTextContents();
        assert.equal(mine.length, 1, mine.join(" | "));
        assert.match(mine[0], /in a shop, approved and eSIM activated \(this one\)/);
        const live = await page.locator("#security-activations li").allTextContents();
        assert.equal(live.length, 1, live.join(" | "));
        await shot(page, layout, "a-09-security-check");
        // The same view in French.
        await page.locator("[data-locale=fr]").click();
        assert.ok(
          (await page.locator("#security-advice li").allTextContents()).some((text) =>
            text.startsWith("Rien d'inhabituel"),
          ),
        );
        await shot(page, layout, "a-10-security-check-fr");
        assert.deepEqual(problems, []);
      } finally {
        await browser.close();
      }
    });

    test("(b) an impostor's selfie is refused with face_mismatch and a retake hint, in en and fr", async () => {
      const { browser, page, problems } = await openKiosk({ photo: "impostor_1.jpg", layout });
      try {
        await startSession(page, layout, "b", nextMsisdn());
        await passDocument(page, layout, "b");
        await takeSelfie(page);
        const reason = page.locator('#feedback li[data-reason="face_mismatch"]');
        await reason.waitFor({ timeout: STEP_TIMEOUT });
        assert.match(await reason.textContent(), /does not match the photo on the document/);
        assert.match(await reason.textContent(), /document holder must take the selfie/);
        assert.match(await page.locator("#feedback").textContent(), /Attempts left for this step: 2/);
        // Still on the selfie step, camera ready for a retake.
        assert.equal(await page.locator("#screen-selfie").isVisible(), true);
        await shot(page, layout, "b-05-face-mismatch");
        await page.getByRole("button", { name: "Français" }).click();
        assert.equal(await page.evaluate(() => document.documentElement.lang), "fr");
        assert.match(await reason.textContent(), /ne correspond pas à la photo de la pièce/);
        assert.match(await page.locator("#feedback").textContent(), /Essais restants pour cette étape : 2/);
        assert.equal(await page.getByRole("button", { name: "Prendre mon selfie" }).isVisible(), true);
        await shot(page, layout, "b-06-face-mismatch-fr");
        assert.deepEqual(problems, []);
      } finally {
        await browser.close();
      }
    });

    test("(c) a wrong code is refused, then the right one is accepted", async () => {
      const { browser, page, problems } = await openKiosk({ photo: "person_a_2.jpg", layout });
      try {
        const msisdn = nextMsisdn();
        await startSession(page, layout, "c", msisdn);
        await passDocument(page, layout, "c");
        await takeSelfie(page);
        const code = await requestSmsCode(page, msisdn);
        const wrong = code.replace(/\d$/, (d) => String((Number(d) + 1) % 10));
        await enterCode(page, wrong);
        await page.locator("#feedback").getByText("That code is not right").waitFor({ timeout: STEP_TIMEOUT });
        await page.locator("#feedback").getByText("Attempts left for this code: 4").waitFor({ timeout: STEP_TIMEOUT });
        assert.match(await page.locator("#feedback h3").textContent(), /That did not work/);
        assert.equal(await page.locator("#otp-code").getAttribute("aria-invalid"), "true");
        assert.equal(await page.evaluate(() => document.activeElement.id), "otp-code");
        await shot(page, layout, "c-06-otp-wrong");
        await enterCode(page, code);
        await activate(page, layout, "c");
        assert.deepEqual(problems, []);
      } finally {
        await browser.close();
      }
    });
  });
}

describe("kiosk page, other checks", () => {
  test("(d) a mobile session shows its liveness challenge on the selfie step", async () => {
    const layout = "phone";
    const { browser, page, problems } = await openKiosk({ photo: "person_a_2.jpg", layout });
    try {
      await startSession(page, layout, "d", nextMsisdn(), "mobile");
      await passDocument(page, layout, "d");
      const challenge = page.locator("#challenge");
      await challenge.waitFor({ state: "visible" });
      const action = await challenge.getAttribute("data-action");
      assert.ok(["turn_head_left", "turn_head_right", "move_closer"].includes(action), action);
      assert.match(await page.locator("#challenge-text").textContent(), /Slowly/);
      await shot(page, layout, "d-04-selfie-challenge");
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
    }
  });

  test("(f) the start form works from the keyboard alone, in a sensible tab order", async () => {
    const layout = "kiosk";
    const { browser, page, problems } = await openKiosk({ photo: "person_a_2.jpg", layout });
    try {
      await page.goto(`${server.url}/kiosk#key=${encodeURIComponent(server.key)}`);
      await visible(page, "#screen-start");
      assert.equal(await page.evaluate(() => document.activeElement.id), "start-title");
      const order = [];
      for (let i = 0; i < 8; i += 1) {
        await page.keyboard.press("Tab");
        order.push(await page.evaluate(() => document.activeElement.id || document.activeElement.name));
      }
      assert.deepEqual(order, ["channel", "msisdn", "eid", "iccid", "matching_id", "smdp_address", "consent", ""]);
      assert.equal(await page.evaluate(() => document.activeElement.textContent), "Start");
      // Type the fields and submit with Enter, no pointer.
      await page.keyboard.press("Shift+Tab");
      await page.keyboard.press("Shift+Tab");
      await page.keyboard.press("Shift+Tab");
      await page.keyboard.press("Shift+Tab");
      await page.keyboard.press("Shift+Tab");
      await page.keyboard.press("Shift+Tab");
      await page.keyboard.type(nextMsisdn());
      await page.keyboard.press("Tab");
      await page.keyboard.type(nextEid());
      await page.keyboard.press("Tab");
      await page.keyboard.type(ICCID);
      await page.keyboard.press("Enter");
      // Without consent nothing is sent: the page says why and puts the focus on the box.
      await visible(page, "#feedback");
      assert.match(await page.locator("#feedback").innerText(), /tick the box to give your consent/);
      assert.equal(await page.evaluate(() => document.activeElement.id), "consent");
      assert.ok(await page.locator("#screen-start").isVisible());
      await page.keyboard.press("Space");
      await page.keyboard.press("Tab");
      await page.keyboard.press("Enter");
      await visible(page, "#screen-document");
      assert.equal(await page.evaluate(() => document.activeElement.id), "document-title");
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
    }
  });

  test("(e) the page carries a strict CSP; the kiosk key is refused admin routes (403) and other kiosks' sessions (404)", async () => {
    const page = await fetch(`${server.url}/kiosk`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type"), /^text\/html/);
    const csp = page.headers.get("content-security-policy");
    for (const directive of ["default-src 'self'", "img-src 'self' data: blob:", "media-src 'self' blob:"]) {
      assert.ok(csp.includes(directive), `${directive} in ${csp}`);
    }
    const script = await fetch(`${server.url}/kiosk/assets/app.js`);
    assert.match(script.headers.get("content-type"), /^text\/javascript/);
    assert.equal((await fetch(`${server.url}/kiosk/assets/nope.js`)).status, 404);
    const admin = await fetch(`${server.url}/v1/api-keys`, { headers: { Authorization: `Bearer ${server.key}` } });
    assert.equal(admin.status, 403);
    assert.equal((await admin.json()).type, "urn:simgate:problem:insufficient-scope");
    // The kiosk policy opens no session without the subscriber's consent to biometric matching.
    const open = (extra) =>
      fetch(`${server.url}/v1/verifications`, {
        method: "POST",
        headers: { Authorization: `Bearer ${server.key}`, "Content-Type": "application/json" },
        body: JSON.stringify({ channel: "kiosk", msisdn: nextMsisdn(), eid: nextEid(), iccid: ICCID, ...extra }),
      });
    const refused = await open({});
    assert.equal(refused.status, 422);
    const problem = await refused.json();
    assert.equal(problem.type, "urn:simgate:problem:consent-required");
    assert.deepEqual(problem.missing_purposes, ["identity_verification", "biometric_matching"]);
    // A session this kiosk opened is invisible to another kiosk's key.
    const consent = {
      notice_version: "kiosk-2026-11-en",
      purposes: ["identity_verification", "biometric_matching"],
      method: "on_screen",
    };
    const opened = await open({ consent });
    assert.equal(opened.status, 201);
    const { id, consent: recorded } = await opened.json();
    assert.equal(recorded.notice_version, "kiosk-2026-11-en");
    assert.deepEqual(recorded.purposes, consent.purposes);
    const read = (key) =>
      fetch(`${server.url}/v1/verifications/${id}`, { headers: { Authorization: `Bearer ${key}` } });
    assert.equal((await read(server.key)).status, 200);
    assert.equal((await read(server.otherKey)).status, 404);
  });
});
