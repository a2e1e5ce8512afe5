//! DXGI Desktop Duplication: the fast way to read a Windows monitor. The compositor hands over
//! each new desktop picture as a GPU texture; it is copied into a CPU-readable texture and from
//! there into our buffer. When nothing changed, no picture is delivered and the last one is
//! reused, so an idle screen costs one call.
//!
//! Duplication is missing where there is no WDDM driver (basic display, many RDP sessions) and
//! under Wine (`DuplicateOutput` answers `E_NOTIMPL`); it is lost on a resolution change, a
//! desktop switch (UAC prompt, Ctrl+Alt+Del, lock) or a full-screen exclusive program. The
//! [`super::fallback::Chooser`] then reads the monitor with GDI.
//!
//! Rotated monitors are left to GDI: duplication delivers them unrotated.

use super::Monitor;
use super::fallback::{FastError, FastPath, FastReader};
use windows::Win32::Foundation::{E_ACCESSDENIED, E_NOTIMPL, HMODULE};
use windows::Win32::Graphics::Direct3D::D3D_DRIVER_TYPE_UNKNOWN;
use windows::Win32::Graphics::Direct3D11::{
    D3D11_CPU_ACCESS_READ, D3D11_CREATE_DEVICE_BGRA_SUPPORT, D3D11_MAP_READ,
    D3D11_MAPPED_SUBRESOURCE, D3D11_SDK_VERSION, D3D11_TEXTURE2D_DESC, D3D11_USAGE_STAGING,
    D3D11CreateDevice, ID3D11Device, ID3D11DeviceContext, ID3D11Texture2D,
};
use windows::Win32::Graphics::Dxgi::Common::{
    DXGI_FORMAT_B8G8R8A8_UNORM, DXGI_MODE_ROTATION_IDENTITY, DXGI_MODE_ROTATION_UNSPECIFIED,
};
use windows::Win32::Graphics::Dxgi::{
    CreateDXGIFactory1, DXGI_ERROR_ACCESS_LOST, DXGI_ERROR_DEVICE_REMOVED,
    DXGI_ERROR_NOT_CURRENTLY_AVAILABLE, DXGI_ERROR_SESSION_DISCONNECTED, DXGI_ERROR_UNSUPPORTED,
    DXGI_ERROR_WAIT_TIMEOUT, DXGI_OUTDUPL_FRAME_INFO, IDXGIAdapter1, IDXGIFactory1, IDXGIOutput,
    IDXGIOutput1, IDXGIOutputDuplication, IDXGIResource,
};
use windows::core::Interface;

/// Opens monitors through DXGI Desktop Duplication.
#[derive(Debug, Default)]
pub struct Duplication;

/// One duplicated monitor: the device, the duplication, a CPU-readable copy and the last picture.
pub struct DuplicatedMonitor {
    device: ID3D11Device,
    context: ID3D11DeviceContext,
    duplication: IDXGIOutputDuplication,
    staging: Option<ID3D11Texture2D>,
    width: u32,
    height: u32,
    /// The last picture, packed BGRA; empty until the first one arrived.
    last: Vec<u8>,
}

impl std::fmt::Debug for DuplicatedMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuplicatedMonitor")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

impl FastPath for Duplication {
    type Reader = DuplicatedMonitor;

    fn open(&mut self, monitor: &Monitor) -> Result<DuplicatedMonitor, FastError> {
        let (adapter, output) = find_output(monitor)?;
        let mut device = None;
        let mut context = None;
        // SAFETY: the out-pointers live across the call; the adapter is a live COM object.
        unsafe {
            D3D11CreateDevice(
                &adapter,
                D3D_DRIVER_TYPE_UNKNOWN,
                HMODULE::default(),
                D3D11_CREATE_DEVICE_BGRA_SUPPORT,
                None,
                D3D11_SDK_VERSION,
                Some(&mut device),
                None,
                Some(&mut context),
            )
        }
        .map_err(|e| unavailable("D3D11CreateDevice", &e))?;
        let (Some(device), Some(context)) = (device, context) else {
            return Err(FastError::Unavailable(
                "D3D11CreateDevice gave no device".into(),
            ));
        };
        let output1: IDXGIOutput1 = output.cast().map_err(|e| unavailable("IDXGIOutput1", &e))?;
        // SAFETY: both are live COM objects.
        let duplication = unsafe { output1.DuplicateOutput(&device) }
            .map_err(|e| classify("DuplicateOutput", &e))?;
        Ok(DuplicatedMonitor {
            device,
            context,
            duplication,
            staging: None,
            width: monitor.width,
            height: monitor.height,
            last: Vec::new(),
        })
    }
}

impl FastReader for DuplicatedMonitor {
    fn read(&mut self, out: &mut [u8], stride: usize) -> Result<(), FastError> {
        // The first picture comes at once after DuplicateOutput; later ones only on change.
        let wait_ms = if self.last.is_empty() { 500 } else { 0 };
        let mut info = DXGI_OUTDUPL_FRAME_INFO::default();
        let mut resource: Option<IDXGIResource> = None;
        // SAFETY: the out-pointers live across the call.
        match unsafe {
            self.duplication
                .AcquireNextFrame(wait_ms, &mut info, &mut resource)
        } {
            Ok(()) => {
                let copied = self.take_picture(&info, resource);
                // SAFETY: a frame was acquired above and is released once.
                let released = unsafe { self.duplication.ReleaseFrame() };
                copied?;
                released.map_err(|e| classify("ReleaseFrame", &e))?;
            }
            Err(e) if e.code() == DXGI_ERROR_WAIT_TIMEOUT => {}
            Err(e) => return Err(classify("AcquireNextFrame", &e)),
        }
        if self.last.is_empty() {
            return Err(FastError::Lost("no first picture within 500 ms".into()));
        }
        let row = self.width as usize * 4;
        if stride < row || out.len() < stride * (self.height as usize - 1) + row {
            return Err(FastError::Lost("the monitor's size changed".into()));
        }
        for (dst, src) in out.chunks_mut(stride).zip(self.last.chunks_exact(row)) {
            dst[..row].copy_from_slice(src);
        }
        Ok(())
    }
}

impl DuplicatedMonitor {
    /// Copies an acquired desktop picture into `last` (pointer-only updates carry none).
    fn take_picture(
        &mut self,
        info: &DXGI_OUTDUPL_FRAME_INFO,
        resource: Option<IDXGIResource>,
    ) -> Result<(), FastError> {
        if info.LastPresentTime == 0 && !self.last.is_empty() {
            return Ok(());
        }
        let Some(resource) = resource else {
            return Ok(());
        };
        let texture: ID3D11Texture2D = resource
            .cast()
            .map_err(|e| lost("the desktop picture is no texture", &e))?;
        let mut desc = D3D11_TEXTURE2D_DESC::default();
        // SAFETY: `desc` is a plain struct the call fills.
        unsafe { texture.GetDesc(&mut desc) };
        if (desc.Width, desc.Height) != (self.width, self.height) {
            return Err(FastError::Lost(format!(
                "the picture is {}×{}, the monitor {}×{}",
                desc.Width, desc.Height, self.width, self.height
            )));
        }
        if desc.Format != DXGI_FORMAT_B8G8R8A8_UNORM {
            // HDR or 10-bit desktops: GDI converts for us.
            return Err(FastError::Unavailable(format!(
                "the desktop format {} is not 8-bit BGRA",
                desc.Format.0
            )));
        }
        if self.staging.is_none() {
            let staging_desc = D3D11_TEXTURE2D_DESC {
                Usage: D3D11_USAGE_STAGING,
                BindFlags: 0,
                CPUAccessFlags: D3D11_CPU_ACCESS_READ.0 as u32,
                MiscFlags: 0,
                MipLevels: 1,
                ArraySize: 1,
                ..desc
            };
            let mut staging = None;
            // SAFETY: the description and out-pointer live across the call.
            unsafe {
                self.device
                    .CreateTexture2D(&staging_desc, None, Some(&mut staging))
            }
            .map_err(|e| lost("CreateTexture2D", &e))?;
            self.staging = staging;
        }
        let Some(staging) = self.staging.as_ref() else {
            return Err(FastError::Lost("no staging texture".into()));
        };
        let mut mapped = D3D11_MAPPED_SUBRESOURCE::default();
        // SAFETY: both textures are live and of the same size and format; the mapping is read
        // within its row pitch and unmapped before return.
        unsafe {
            self.context.CopyResource(staging, &texture);
            self.context
                .Map(staging, 0, D3D11_MAP_READ, 0, Some(&mut mapped))
                .map_err(|e| lost("Map", &e))?;
            let row = self.width as usize * 4;
            let pitch = mapped.RowPitch as usize;
            if pitch >= row && !mapped.pData.is_null() {
                let src = std::slice::from_raw_parts(
                    mapped.pData as *const u8,
                    pitch * (self.height as usize - 1) + row,
                );
                self.last.clear();
                self.last.reserve(row * self.height as usize);
                for y in 0..self.height as usize {
                    self.last
                        .extend_from_slice(&src[y * pitch..y * pitch + row]);
                }
            }
            self.context.Unmap(staging, 0);
        }
        if self.last.is_empty() {
            return Err(FastError::Lost("the picture could not be mapped".into()));
        }
        Ok(())
    }
}

/// The adapter and output showing `monitor` (matched by its desktop rectangle).
fn find_output(monitor: &Monitor) -> Result<(IDXGIAdapter1, IDXGIOutput), FastError> {
    // SAFETY: plain COM calls; every object is reference-counted by the bindings.
    let factory: IDXGIFactory1 =
        unsafe { CreateDXGIFactory1() }.map_err(|e| unavailable("CreateDXGIFactory1", &e))?;
    for a in 0.. {
        // SAFETY: as above; the end of the list is an error.
        let Ok(adapter) = (unsafe { factory.EnumAdapters1(a) }) else {
            break;
        };
        for o in 0.. {
            // SAFETY: as above.
            let Ok(output) = (unsafe { adapter.EnumOutputs(o) }) else {
                break;
            };
            // SAFETY: as above.
            let Ok(desc) = (unsafe { output.GetDesc() }) else {
                continue;
            };
            let r = desc.DesktopCoordinates;
            if (r.left, r.top, r.right - r.left, r.bottom - r.top)
                != (
                    monitor.x,
                    monitor.y,
                    monitor.width as i32,
                    monitor.height as i32,
                )
            {
                continue;
            }
            if desc.Rotation != DXGI_MODE_ROTATION_IDENTITY
                && desc.Rotation != DXGI_MODE_ROTATION_UNSPECIFIED
            {
                return Err(FastError::Unavailable("the monitor is rotated".into()));
            }
            return Ok((adapter, output));
        }
    }
    Err(FastError::Unavailable(format!(
        "no DXGI output shows {} at {},{} {}×{}",
        monitor.name, monitor.x, monitor.y, monitor.width, monitor.height
    )))
}

/// Sorts a failure into "not here" and "lost for now".
fn classify(what: &str, e: &windows::core::Error) -> FastError {
    let code = e.code();
    if code == DXGI_ERROR_ACCESS_LOST
        || code == E_ACCESSDENIED
        || code == DXGI_ERROR_DEVICE_REMOVED
        || code == DXGI_ERROR_NOT_CURRENTLY_AVAILABLE
    {
        // Desktop switch, secure desktop, driver update, too many duplications right now.
        lost(what, e)
    } else if code == E_NOTIMPL
        || code == DXGI_ERROR_UNSUPPORTED
        || code == DXGI_ERROR_SESSION_DISCONNECTED
    {
        unavailable(what, e)
    } else {
        lost(what, e)
    }
}

fn unavailable(what: &str, e: &windows::core::Error) -> FastError {
    FastError::Unavailable(format!("{what}: {:#010x} {}", e.code().0, e.message()))
}

fn lost(what: &str, e: &windows::core::Error) -> FastError {
    FastError::Lost(format!("{what}: {:#010x} {}", e.code().0, e.message()))
}
