/*
 * A stand-in for Windows' bcryptprimitives.dll, for running CoAgent's Windows build
 * under Debian's wine 8.0 in CI, and for nothing else.
 *
 * Rust's standard library (1.78 and later) asks bcryptprimitives.dll for ProcessPrng at
 * start, for HashMap keys and the like. Windows 10 and later ship it; wine 8.0 does not
 * have the DLL at all, so every Rust program dies before main ("Library
 * bcryptprimitives.dll ... not found", status c0000135). Newer wine has it; Debian 12
 * packages only 8.0.
 *
 * ProcessPrng fills a buffer with random bytes and never fails on Windows. Here it asks
 * RtlGenRandom (advapi32's SystemFunction036, which wine implements from the system's
 * random source), in chunks that fit its ULONG length. .ci/run builds this with MinGW and
 * puts it in the wine prefix's system32; it never ships with CoAgent.
 */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!RtlGenRandom(data, n))
            return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
