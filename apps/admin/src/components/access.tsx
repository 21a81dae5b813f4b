import { createContext, type ReactNode, useContext } from "react";

/** Whether write controls are enabled (false for viewer tokens). */
const WriteAccess = createContext(true);

export function WriteAccessProvider({
  canWrite,
  children,
}: {
  canWrite: boolean;
  children: ReactNode;
}) {
  return <WriteAccess.Provider value={canWrite}>{children}</WriteAccess.Provider>;
}

export function useCanWrite(): boolean {
  return useContext(WriteAccess);
}

/** Tooltip of a write control that is disabled because the token is read-only. */
export const READ_ONLY_TITLE = "Read-only: your token has the viewer role";
