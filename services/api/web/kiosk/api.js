// A small client of simgate's /v1 verification API, authenticated with the kiosk's API key.
//
// Successful answers resolve to their JSON; problems (application/problem+json) reject with an
// ApiError carrying the problem's short type (after urn:simgate:problem:), reason, field, detail.

const PROBLEM_PREFIX = "urn:simgate:problem:";

/** A refused or failed API call. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    const type = typeof problem.type === "string" ? problem.type : "";
    this.type = type.startsWith(PROBLEM_PREFIX) ? type.slice(PROBLEM_PREFIX.length) : type;
    this.reason = problem.reason;
    this.field = problem.field;
    this.retryAfter = problem.retry_after;
  }
}

/** The service could not be reached at all. */
export class NetworkError extends Error {}

/** A client calling the API with the key `getKey()` returns at call time. */
export function createApi(getKey) {
  async function call(method, path, body) {
    const headers = { Authorization: `Bearer ${getKey()}`, Accept: "application/json" };
    let payload;
    if (body instanceof FormData) {
      payload = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, { method, headers, body: payload, cache: "no-store" });
    } catch (error) {
      throw new NetworkError(String(error));
    }
    const text = await response.text();
    let json = {};
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = { detail: text };
      }
    }
    if (!response.ok) {
      throw new ApiError(response.status, json);
    }
    return json;
  }
  const base = (id) => `/v1/verifications/${encodeURIComponent(id)}`;
  return {
    createVerification: (request) => call("POST", "/v1/verifications", request),
    getVerification: (id) => call("GET", base(id)),
    submitDocument(id, image, mrzText) {
      const form = new FormData();
      form.append("image", image, image.name || "document.jpg");
      if (mrzText) form.append("mrz_text", mrzText);
      return call("POST", `${base(id)}/document`, form);
    },
    submitSelfie(id, frames) {
      const form = new FormData();
      frames.forEach((frame, i) => form.append("frames", frame, frame.name || `frame-${i + 1}.jpg`));
      return call("POST", `${base(id)}/selfie`, form);
    },
    startOtp: (id, method, locale) => call("POST", `${base(id)}/otp`, { method, locale }),
    verifyOtp: (id, code) => call("POST", `${base(id)}/otp/verify`, { code }),
    activate: (id) => call("POST", `${base(id)}/activation`),
    securityCheck: (id) => call("GET", `${base(id)}/security-check`),
  };
}
