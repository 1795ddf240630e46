/** Asked once when the API answers 401: the token is kept for this tab only (sessionStorage). */
import { useState } from "preact/hooks";
import { saveToken } from "../api.js";

export function TokenForm({ onSaved }: { onSaved: () => void }) {
  const [token, setToken] = useState("");
  const submit = (event: Event) => {
    event.preventDefault();
    saveToken(token.trim());
    onSaved();
  };
  return (
    <form class="card token" onSubmit={submit}>
      <h2>API token</h2>
      <p>This control plane needs its API token (praas up --api-token).</p>
      <label>
        Token{" "}
        <input
          type="password"
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          autoFocus
        />
      </label>{" "}
      <button type="submit" disabled={token.trim() === ""}>
        Use token
      </button>
    </form>
  );
}
