/*
 * bcryptprimitives.dll for Wine 8.0, which lacks it.
 *
 * Rust's std (1.78+) on Windows imports ProcessPrng from bcryptprimitives.dll;
 * Wine 8.0 has no such DLL, so every Rust .exe stops at start with c0000135
 * (STATUS_DLL_NOT_FOUND). This DLL exports that one function and fills the
 * buffer from advapi32's RtlGenRandom (exported as SystemFunction036), which
 * Wine does have. It is a build tool for .ci/windows only: it is copied into
 * the CI's own Wine prefix (system32), never shipped.
 *
 * Build: x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll \
 *            processprng.c processprng.def -ladvapi32
 */
#include <windows.h>

/* advapi32's RtlGenRandom, by its export name. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* Fills `data` with `len` random bytes; always TRUE on success, as on Windows. */
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
