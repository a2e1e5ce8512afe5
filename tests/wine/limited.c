/* Test-only launcher for the Wine end-to-end test: runs the command line after its own name with
 * the limited (not elevated) twin of its token, as Windows starts programs for an administrator
 * with UAC on. Wine starts every program elevated; with this, the Lotse client runs like on
 * Windows, and a program started plainly is "elevated" next to it. Waits for the program and
 * exits with its code. Built by the test with x86_64-w64-mingw32-gcc -municode. */
#include <windows.h>
#include <stdio.h>

int wmain(void) {
    HANDLE own, limited;
    TOKEN_LINKED_TOKEN linked;
    DWORD n, code = 1;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY | TOKEN_DUPLICATE, &own)) return 10;
    if (!GetTokenInformation(own, TokenLinkedToken, &linked, sizeof linked, &n)) return 11;
    if (!DuplicateTokenEx(linked.LinkedToken, MAXIMUM_ALLOWED, NULL, SecurityImpersonation,
                          TokenPrimary, &limited)) return 12;
    /* The command line without our own name (quoted or not). */
    WCHAR *p = GetCommandLineW();
    if (*p == L'"') { p = wcschr(p + 1, L'"'); if (!p) return 13; p++; }
    else { while (*p && *p != L' ') p++; }
    while (*p == L' ') p++;
    STARTUPINFOW si = {sizeof si};
    PROCESS_INFORMATION pi;
    if (!CreateProcessAsUserW(limited, NULL, p, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) return 14;
    WaitForSingleObject(pi.hProcess, INFINITE);
    GetExitCodeProcess(pi.hProcess, &code);
    return (int)code;
}
