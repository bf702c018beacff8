// The player API (docs/candidate-api.md): JSON in and out, problems sorted
// into the few kinds the player acts on. Every response with a server_time
// resynchronises the clock.

export class ApiError extends Error {
  /**
   * kind: network | closed | elsewhere | gone | not-started | navigation | paused | server | client;
   * problem: the problem+json body, when there is one.
   */
  constructor(kind, status, detail, problem = null) {
    super(detail || kind);
    this.kind = kind;
    this.status = status;
    this.problem = problem;
  }
}

function kindOf(status, problem) {
  const type = (problem && typeof problem.type === "string" && problem.type) || "";
  if (status === 409 && type.endsWith(":attempt-closed")) return "closed";
  if (status === 409 && type.endsWith(":in-progress-elsewhere")) return "elsewhere";
  if (status === 409 && type.endsWith(":not-started")) return "not-started";
  if (status === 409 && type.endsWith(":navigation-closed")) return "navigation";
  // The proctor has paused the exam: answers wait on the device until the resume.
  if (status === 409 && (type.endsWith(":paused") || (problem && problem.code === "paused"))) return "paused";
  if (status === 401) return "elsewhere";
  if (status === 404 || status === 410) return "gone";
  if (status >= 500 || status === 429 || status === 408) return "server";
  return "client";
}

/** The answer's JSON body (a problem+json too), or null when it has none. */
export async function jsonOf(res) {
  if (!(res.headers.get("Content-Type") || "").includes("json")) return null;
  try {
    return await res.json();
  } catch {
    return null;
  }
}

/** What a refusal says: its problem+json detail, else the status text. */
export function detailOf(res, data) {
  return data && typeof data.detail === "string" ? data.detail : res.statusText;
}

export class Api {
  constructor(base, clock) {
    this.base = base.replace(/\/$/, "");
    this.clock = clock;
  }

  async call(method, path, body, { keepalive = false } = {}) {
    const sent = Date.now();
    let res;
    try {
      res = await fetch(`${this.base}/${path}`, {
        method,
        headers: { Accept: "application/json", "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
        keepalive,
      });
    } catch (err) {
      throw new ApiError("network", 0, String(err));
    }
    const received = Date.now();
    const data = await jsonOf(res);
    if (!res.ok) throw new ApiError(kindOf(res.status, data), res.status, detailOf(res, data), data);
    if (data === null) throw new ApiError("server", res.status, "the answer was not JSON");
    if (data.server_time) this.clock.sync(data.server_time, sent, received);
    return data;
  }
}
