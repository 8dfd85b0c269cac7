// The API as the portal calls it: same origin, JSON, problem+json refusals as errors.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** `body` as an object (sent as JSON) or as JSON text already (big integers kept). */
export async function call(method, path, body, token) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const answer = await fetch(path, {
    method,
    headers,
    body: body === undefined || typeof body === "string" ? body : JSON.stringify(body),
    credentials: "omit",
  });
  const text = await answer.text();
  const data = text ? JSON.parse(text) : null;
  if (!answer.ok) throw new ApiError(answer.status, data);
  return data;
}

/** Challenge, EIP-191 personal_sign in the browser, token (api/routers/auth.py). */
export async function signIn(wallet) {
  const challenge = await call("POST", "/auth/challenge", { address: wallet.address });
  const signature = await wallet.signMessage(challenge.message);
  return call("POST", "/auth/token", {
    address: wallet.address,
    message: challenge.message,
    signature,
  });
}

export async function signOut(token) {
  await call("POST", "/auth/logout", undefined, token);
}
