import { useQueryClient } from "@tanstack/react-query";
import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
} from "react";
import { type Api, createApi, errorCode, errorText } from "./api";

const STORAGE_KEY = "edgesocks.adminToken";

export interface Identity {
  name: string;
  role: "admin" | "viewer";
}

interface Session {
  api: Api;
  identity: Identity;
  /** False for viewer tokens: every write control is disabled. */
  canWrite: boolean;
  signOut: () => void;
}

type AuthState =
  | { status: "checking" }
  /** The stored token could not be checked (control plane down): kept, with a retry. */
  | { status: "unreachable"; message: string }
  | { status: "signed-out"; message: string | null }
  | { status: "signed-in"; session: Session };

interface AuthContextValue {
  state: AuthState;
  signIn: (token: string) => Promise<void>;
  /** Checks the stored token again (after "unreachable"). */
  retry: () => void;
}

const AuthContext = createContext<AuthContextValue | null>(null);

function readStoredToken(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

/** Holds the admin token (in sessionStorage: gone when the tab closes) and who it belongs to. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [state, setState] = useState<AuthState>(() =>
    readStoredToken() === null ? { status: "signed-out", message: null } : { status: "checking" },
  );

  const signOut = useCallback(
    (message: string | null = null) => {
      sessionStorage.removeItem(STORAGE_KEY);
      queryClient.clear();
      setState({ status: "signed-out", message });
    },
    [queryClient],
  );

  const verify = useCallback(
    async (token: string) => {
      const api = createApi(token);
      const identity = await api.whoami.query();
      sessionStorage.setItem(STORAGE_KEY, token);
      setState({
        status: "signed-in",
        session: {
          api,
          identity,
          canWrite: identity.role === "admin",
          signOut: () => signOut(),
        },
      });
    },
    [signOut],
  );

  const checkStored = useCallback(() => {
    const stored = readStoredToken();
    if (stored === null) return;
    setState({ status: "checking" });
    verify(stored).catch((error: unknown) => {
      if (errorCode(error) === "UNAUTHORIZED") {
        signOut("Your token is no longer valid. Sign in again.");
      } else {
        setState({ status: "unreachable", message: errorText(error) });
      }
    });
  }, [verify, signOut]);

  useEffect(checkStored, [checkStored]);

  // Any query that meets 401 (a revoked token) signs out.
  useEffect(() => {
    return queryClient.getQueryCache().subscribe((event) => {
      if (event.type === "updated" && errorCode(event.query.state.error) === "UNAUTHORIZED") {
        signOut("Your token was refused. Sign in again.");
      }
    });
  }, [queryClient, signOut]);

  const value = useMemo<AuthContextValue>(
    () => ({ state, signIn: verify, retry: checkStored }),
    [state, verify, checkStored],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthContextValue {
  const value = useContext(AuthContext);
  if (value === null) throw new Error("useAuth outside AuthProvider");
  return value;
}

/** The signed-in session; only used below the sign-in gate. */
export function useSession(): Session {
  const { state } = useAuth();
  if (state.status !== "signed-in") throw new Error("useSession while signed out");
  return state.session;
}

export function useApi(): Api {
  return useSession().api;
}
