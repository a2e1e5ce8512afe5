/* Test-only: Wine 8.0 lacks bcryptprimitives.dll, whose ProcessPrng Rust's standard library calls
 * for random bytes. Windows 10/11 have the real DLL; this shim never ships (PLATFORM-NOTES.md). */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
