import { type FormEvent, useState } from "react";
import { Button } from "../components/button";
import { Card } from "../components/card";
import { Field, Input } from "../components/field";
import { errorCode, errorText } from "../lib/api";
import { useAuth } from "../lib/auth";

export function SignInPage({ message }: { message: string | null }) {
  const { signIn } = useAuth();
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const trimmed = token.trim();
    if (trimmed === "") {
      setError("Paste an admin or viewer token (esa_…).");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await signIn(trimmed);
    } catch (cause) {
      setError(
        errorCode(cause) === "UNAUTHORIZED"
          ? "This token was not accepted. Check that it is an active admin or viewer token."
          : errorText(cause),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <Card title="Sign in to EdgeSocks" description="The admin console of your SOCKS proxy fleet.">
        <form className="form" onSubmit={submit} noValidate>
          {message ? (
            <div className="notice notice-warn" role="status">
              {message}
            </div>
          ) : null}
          <Field
            label="API token"
            hint={
              <>
                The first admin token is printed when the control plane starts and written to{" "}
                <code>data/admin-token</code>. It stays in this tab only.
              </>
            }
            error={error}
          >
            {(control) => (
              <Input
                {...control}
                name="token"
                type="password"
                autoComplete="off"
                spellCheck={false}
                placeholder="esa_…"
                value={token}
                onChange={(event) => setToken(event.target.value)}
                autoFocus
              />
            )}
          </Field>
          <Button type="submit" variant="primary" busy={busy}>
            Sign in
          </Button>
        </form>
      </Card>
    </main>
  );
}
