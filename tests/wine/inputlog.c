/* Test-only Windows program for the Wine end-to-end test: a window with a known picture (eight
 * colour bars) that logs, one line each, what it receives into the file named by argv[1]:
 *   char U+XXXX     (WM_CHAR, UTF-16 units combined into code points)
 *   down X Y        (left button, in screen coordinates)
 *   wheel N         (WM_MOUSEWHEEL delta)
 * It opens right of the Lotse window (which stays on top while viewed and takes no remote
 * input), titled argv[2] if given, else "inputlog". Built by the test with
 * x86_64-w64-mingw32-gcc -municode. */
#include <windows.h>
#include <stdio.h>

static FILE *out;
static WCHAR high;

static LRESULT CALLBACK proc(HWND w, UINT m, WPARAM wp, LPARAM lp) {
    switch (m) {
    case WM_CHAR: {
        unsigned cp = (unsigned)wp;
        if (cp >= 0xd800 && cp < 0xdc00) { high = (WCHAR)cp; return 0; }
        if (cp >= 0xdc00 && cp < 0xe000 && high) { cp = 0x10000 + ((high - 0xd800) << 10) + (cp - 0xdc00); high = 0; }
        fprintf(out, "char U+%04X\n", cp);
        fflush(out);
        return 0;
    }
    case WM_LBUTTONDOWN: {
        POINT p = {(short)LOWORD(lp), (short)HIWORD(lp)};
        ClientToScreen(w, &p);
        fprintf(out, "down %ld %ld\n", p.x, p.y);
        fflush(out);
        return 0;
    }
    case WM_MOUSEWHEEL:
        fprintf(out, "wheel %d\n", (short)HIWORD(wp));
        fflush(out);
        return 0;
    case WM_PAINT: {
        static const COLORREF bars[8] = {RGB(255,255,255), RGB(255,255,0), RGB(0,255,255), RGB(0,255,0),
                                         RGB(255,0,255), RGB(255,0,0), RGB(0,0,255), RGB(0,0,0)};
        PAINTSTRUCT ps;
        RECT r;
        HDC dc = BeginPaint(w, &ps);
        GetClientRect(w, &r);
        for (int i = 0; i < 8; i++) {
            RECT b = {r.right * i / 8, 0, r.right * (i + 1) / 8, r.bottom};
            HBRUSH br = CreateSolidBrush(bars[i]);
            FillRect(dc, &b, br);
            DeleteObject(br);
        }
        EndPaint(w, &ps);
        return 0;
    }
    case WM_DESTROY:
        PostQuitMessage(0);
        return 0;
    }
    return DefWindowProcW(w, m, wp, lp);
}

int wmain(int argc, WCHAR **argv) {
    if (argc < 2) return 2;
    out = _wfopen(argv[1], L"wb");
    if (!out) return 3;
    fprintf(out, "ready\n");
    fflush(out);
    WNDCLASSW wc = {0};
    wc.lpfnWndProc = proc;
    wc.hInstance = GetModuleHandleW(NULL);
    wc.lpszClassName = L"lotse-inputlog";
    wc.hCursor = LoadCursorW(NULL, (LPCWSTR)IDC_ARROW);
    RegisterClassW(&wc);
    HWND w = CreateWindowW(L"lotse-inputlog", argc > 2 ? argv[2] : L"inputlog", WS_OVERLAPPEDWINDOW | WS_VISIBLE,
                           660, 60, 600, 400, NULL, NULL, wc.hInstance, NULL);
    MSG msg;
    while (GetMessageW(&msg, NULL, 0, 0) > 0) {
        TranslateMessage(&msg);
        DispatchMessageW(&msg);
    }
    (void)w;
    return 0;
}
