// Sign-in with a bearer token, kept in the browser's localStorage; the
// server says who it belongs to (GET /api/v1/whoami).
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { api, storeToken, storedToken, type WhoAmI } from "./api";
import { nodesQuery } from "./hooks";
import { workloadsQuery } from "./watch";

interface Auth {
  me: WhoAmI | null;
  checking: boolean;
  signIn(token: string): Promise<void>;
  signOut(): void;
}

const AuthContext = createContext<Auth | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<WhoAmI | null>(null);
  const [checking, setChecking] = useState(() => storedToken() !== "");
  const client = useQueryClient();

  useEffect(() => {
    if (!storedToken()) return;
    // What the first page shows loads while the token is checked.
    void client.prefetchQuery(nodesQuery);
    void client.prefetchQuery(workloadsQuery);
    api<WhoAmI>("/api/v1/whoami")
      .then(setMe)
      .catch(() => storeToken(""))
      .finally(() => setChecking(false));
  }, [client]);

  const signIn = useCallback(async (token: string) => {
    const who = await api<WhoAmI>("/api/v1/whoami", { token });
    storeToken(token);
    client.clear();
    setMe(who);
  }, [client]);

  const signOut = useCallback(() => {
    storeToken("");
    client.clear();
    setMe(null);
  }, [client]);

  return <AuthContext.Provider value={{ me, checking, signIn, signOut }}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const a = useContext(AuthContext);
  if (!a) throw new Error("useAuth outside AuthProvider");
  return a;
}
