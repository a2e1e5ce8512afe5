//! The H.264 encoder: OpenH264 driven through its C API, so that slices, threads, the QP range and
//! run-time bitrate changes are ours to set (the `openh264` crate's wrapper fixes some of them).

use crate::yuv::Yuv420;
use openh264::OpenH264API;
use openh264_sys2::{
    API, ENCODER_OPTION, ENCODER_OPTION_BITRATE, ENCODER_OPTION_DATAFORMAT,
    ENCODER_OPTION_GET_STATISTICS, ENCODER_OPTION_MAX_BITRATE, ENCODER_OPTION_SVC_ENCODE_PARAM_EXT,
    ENCODER_OPTION_TRACE_LEVEL, ISVCEncoder, ISVCEncoderVtbl, RC_BITRATE_MODE, RC_OFF_MODE,
    RC_QUALITY_MODE, SEncParamExt, SEncoderStatistics, SFrameBSInfo, SM_FIXEDSLCNUM_SLICE,
    SM_SINGLE_SLICE, SPATIAL_LAYER_ALL, SSourcePicture, WELS_LOG_QUIET, videoFormatI420,
    videoFrameTypeI, videoFrameTypeIDR, videoFrameTypeIPMixed, videoFrameTypeInvalid,
    videoFrameTypeP, videoFrameTypeSkip,
};
use std::os::raw::{c_int, c_void};
use std::ptr::null_mut;

/// What the picture shows; decides OpenH264's tools (screen content: scrolling detection,
/// palette-friendly decisions; camera: cheaper motion search).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Content {
    #[default]
    Screen,
    Camera,
}

/// Encoder settings. `Default` is what the customer client uses.
#[derive(Clone, Debug, PartialEq)]
pub struct EncoderSettings {
    pub content: Content,
    /// The frame rate the rate control plans for.
    pub fps: f32,
    /// Target bitrate in bits per second (the rate controller changes it at run time).
    pub bitrate_bps: u32,
    /// A constant QP (OpenH264's rate control off), or `None` for OpenH264's own rate control
    /// aiming at `bitrate_bps` within `qp_min..=qp_max`.
    pub qp: Option<u8>,
    /// QP floor: below this, more bits buy no visible quality on a screen.
    pub qp_min: u8,
    /// QP ceiling: text stays readable at or below it. The rate controller lowers the frame rate
    /// rather than let the encoder go above it.
    pub qp_max: u8,
    /// Encoder threads, each taking one slice; 1 = single slice, no threads. (OpenH264 encodes a
    /// picture of at most 48 macroblocks in one slice, and one that its rate control cannot
    /// slice is encoded in one.) See [`threads_for_cores`].
    pub threads: u16,
    /// OpenH264's speed/quality trade-off: 0 low (fast), 1 medium, 2 high.
    pub complexity: u8,
}

impl Default for EncoderSettings {
    fn default() -> Self {
        EncoderSettings {
            content: Content::Screen,
            fps: 30.0,
            bitrate_bps: 16_000_000,
            qp: Some(26),
            qp_min: 20,
            qp_max: 32,
            threads: 1,
            complexity: 0,
        }
    }
}

/// How many encoder threads a machine with `cores` logical cores should use: half of them, at
/// most 4, and a single one below 4 cores. The customer shows their screen *while* working on
/// it: what they run (and the X server or compositor drawing it) needs the other half. Measured
/// on 2 cores (docs/PERFORMANCE-video.md, "Encoder threads"): two threads there gained nothing
/// under load, since the workload already takes the second core; slices cost no bytes on
/// screen content and 0.05 dB (two) to 0.35 dB (four).
pub fn threads_for_cores(cores: usize) -> u16 {
    if cores < 4 {
        1
    } else {
        u16::try_from((cores / 2).min(4)).unwrap_or(1)
    }
}

/// The kind of frame the encoder produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// Decodes on its own (IDR, with SPS/PPS in front).
    Key,
    /// Needs the frames before it.
    Delta,
    /// The encoder decided to send nothing.
    Skipped,
}

/// One encoded frame's facts; the bytes were appended to the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encoded {
    pub kind: FrameKind,
    pub bytes: usize,
    /// Average QP of the frame as OpenH264 reports it.
    pub qp: u32,
}

/// Why encoding failed.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("the H.264 encoder could not be created")]
    Create,
    #[error("picture size {0}x{1} is not supported (even sizes from 16x16 to 3840x2160)")]
    Size(u32, u32),
    #[error("the H.264 encoder rejected its settings (code {0})")]
    Settings(i64),
    #[error("encoding failed (code {0})")]
    Encode(i64),
    #[error("the picture is {got_w}x{got_h}, the encoder was made for {want_w}x{want_h}")]
    Mismatch {
        got_w: u32,
        got_h: u32,
        want_w: u32,
        want_h: u32,
    },
}

/// An OpenH264 encoder for one picture size. Make a new one when the size changes.
pub struct Encoder {
    api: OpenH264API,
    enc: *mut *const ISVCEncoderVtbl,
    vtbl: ISVCEncoderVtbl,
    width: u32,
    height: u32,
    settings: EncoderSettings,
    info: Box<SFrameBSInfo>,
    /// The parameters in force, for changes at run time.
    params: Box<SEncParamExt>,
    frame_no: i64,
}

/// The option of Lotse's OpenH264 patch that turns scroll detection on (1) or off (0) for the
/// frames that follow (`patches/openh264-sys2/README.lotse.md`, item 7).
const LOTSE_ENCODER_OPTION_SCROLL_DETECTION: ENCODER_OPTION = 1000;

/// Whether a change of `rows` rows of a picture `height` rows high is worth OpenH264's search for
/// a scrolled region: from a quarter of the picture on. The search costs 3–8 ms of a 1080p frame
/// whatever the change; typing, a cursor or a menu are no scroll, and a scrolled part of up to
/// 300 rows costs the same bytes without the search (docs/PERFORMANCE-video.md, "Scroll detection").
pub fn scroll_detection_for(rows: u32, height: u32) -> bool {
    rows.saturating_mul(4) >= height
}

// SAFETY: the encoder object is owned exclusively by this value and OpenH264 keeps no
// thread-affine state; it is used from one thread at a time (`&mut self`).
unsafe impl Send for Encoder {}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Encoder {
    /// Creates an encoder for `width`×`height` (both even).
    pub fn new(width: u32, height: u32, settings: EncoderSettings) -> Result<Encoder, EncodeError> {
        if !width.is_multiple_of(2)
            || !height.is_multiple_of(2)
            || width < 16
            || height < 16
            || width.max(height) as usize > crate::decoder::MAX_SIDE
            || width.min(height) as usize > crate::decoder::MAX_SHORT_SIDE
        {
            return Err(EncodeError::Size(width, height));
        }
        let api = OpenH264API::from_source();
        let mut enc: *mut ISVCEncoder = null_mut();
        // SAFETY: WelsCreateSVCEncoder writes a valid encoder pointer on success.
        let rc = unsafe { api.WelsCreateSVCEncoder(&mut enc) };
        if rc != 0 || enc.is_null() {
            return Err(EncodeError::Create);
        }
        // SAFETY: a created encoder points at its vtable, which lives as long as the encoder.
        let vtbl = unsafe { **enc };
        let mut e = Encoder {
            api,
            enc,
            vtbl,
            width,
            height,
            settings,
            info: Box::default(),
            // SAFETY: a plain C struct; init() overwrites it before any use.
            params: Box::new(unsafe { std::mem::zeroed() }),
            frame_no: 0,
        };
        e.init()?;
        Ok(e)
    }

    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    pub fn settings(&self) -> &EncoderSettings {
        &self.settings
    }

    fn init(&mut self) -> Result<(), EncodeError> {
        let s = &self.settings;
        // SAFETY: SEncParamExt is a plain C struct; GetDefaultParams fills every field.
        let mut p: SEncParamExt = unsafe { std::mem::zeroed() };
        let get_default = self.vtbl.GetDefaultParams.ok_or(EncodeError::Create)?;
        // SAFETY: the encoder is valid and `p` is a valid out-pointer.
        unsafe { get_default(self.enc, &mut p) };
        p.iUsageType = match s.content {
            Content::Screen => openh264_sys2::SCREEN_CONTENT_REAL_TIME,
            Content::Camera => openh264_sys2::CAMERA_VIDEO_REAL_TIME,
        };
        p.iPicWidth = self.width as c_int;
        p.iPicHeight = self.height as c_int;
        p.iTargetBitrate = clamp_bitrate(s.bitrate_bps);
        p.iMaxBitrate = 0; // unspecified: the rate controller above owns the ceiling
        p.iRCMode = match (s.qp, s.content) {
            (Some(_), _) => RC_OFF_MODE,
            (None, Content::Screen) => RC_QUALITY_MODE,
            (None, Content::Camera) => RC_BITRATE_MODE,
        };
        p.fMaxFrameRate = s.fps;
        p.iTemporalLayerNum = 1;
        p.iSpatialLayerNum = 1;
        p.iComplexityMode = c_int::from(s.complexity.min(2)) as _;
        p.uiIntraPeriod = 0; // keyframes only when asked for
        p.eSpsPpsIdStrategy = openh264_sys2::CONSTANT_ID;
        // The encoder must not drop frames by itself: the rate controller lowers the frame rate.
        p.bEnableFrameSkip = false;
        p.iMinQp = c_int::from(s.qp_min);
        p.iMaxQp = c_int::from(s.qp_max.max(s.qp_min));
        let threads = s.threads.max(1);
        p.iMultipleThreadIdc = threads;
        p.bEnableDenoise = false;
        // Not supported with screen content (OpenH264 warns and turns it off).
        p.bEnableBackgroundDetection = s.content == Content::Camera;
        p.bEnableAdaptiveQuant = false;
        p.bEnableSceneChangeDetect = true;
        p.bEnableLongTermReference = false;
        p.iLoopFilterDisableIdc = 0;
        let layer = &mut p.sSpatialLayers[0];
        layer.iVideoWidth = self.width as c_int;
        layer.iVideoHeight = self.height as c_int;
        layer.fFrameRate = s.fps;
        layer.iSpatialBitrate = clamp_bitrate(s.bitrate_bps);
        layer.iMaxSpatialBitrate = 0;
        layer.iDLayerQp = c_int::from(s.qp.unwrap_or(26).min(51));
        if threads > 1 {
            layer.sSliceArgument.uiSliceMode = SM_FIXEDSLCNUM_SLICE;
            layer.sSliceArgument.uiSliceNum = u32::from(threads);
        } else {
            layer.sSliceArgument.uiSliceMode = SM_SINGLE_SLICE;
            layer.sSliceArgument.uiSliceNum = 1;
        }
        let init = self.vtbl.InitializeExt.ok_or(EncodeError::Create)?;
        // SAFETY: valid encoder, fully initialised parameters.
        let mut rc = unsafe { init(self.enc, &p) };
        if rc != 0 && threads > 1 {
            // OpenH264 refuses some sizes in slices (under its own rate control, a picture of
            // too few rows); one slice always does.
            p.iMultipleThreadIdc = 1;
            let layer = &mut p.sSpatialLayers[0];
            layer.sSliceArgument.uiSliceMode = SM_SINGLE_SLICE;
            layer.sSliceArgument.uiSliceNum = 1;
            // SAFETY: as above (a failed initialisation leaves the encoder uninitialised).
            rc = unsafe { init(self.enc, &p) };
        }
        if rc != 0 {
            return Err(EncodeError::Settings(i64::from(rc)));
        }
        *self.params = p;
        let mut quiet: c_int = WELS_LOG_QUIET as c_int;
        self.option(ENCODER_OPTION_TRACE_LEVEL, &mut quiet)?;
        let mut format: c_int = videoFormatI420 as c_int;
        self.option(ENCODER_OPTION_DATAFORMAT, &mut format)?;
        Ok(())
    }

    fn option<T>(&mut self, id: ENCODER_OPTION, value: &mut T) -> Result<(), EncodeError> {
        let set = self.vtbl.SetOption.ok_or(EncodeError::Create)?;
        // SAFETY: `value` has the type OpenH264 expects for `id` (each caller passes the
        // documented type).
        let rc = unsafe { set(self.enc, id, (value as *mut T).cast::<c_void>()) };
        if rc != 0 {
            return Err(EncodeError::Settings(i64::from(rc)));
        }
        Ok(())
    }

    /// Changes the target bitrate without a new keyframe.
    pub fn set_bitrate(&mut self, bps: u32) -> Result<(), EncodeError> {
        if bps == self.settings.bitrate_bps {
            return Ok(());
        }
        let mut br = openh264_sys2::SBitrateInfo {
            iLayer: SPATIAL_LAYER_ALL,
            iBitrate: clamp_bitrate(bps),
        };
        // Raise the ceiling first: OpenH264 refuses a target above the maximum.
        let mut max = openh264_sys2::SBitrateInfo {
            iLayer: SPATIAL_LAYER_ALL,
            iBitrate: clamp_bitrate(bps.saturating_mul(2)),
        };
        self.option(ENCODER_OPTION_MAX_BITRATE, &mut max)?;
        self.option(ENCODER_OPTION_BITRATE, &mut br)?;
        self.settings.bitrate_bps = bps;
        Ok(())
    }

    /// Changes the constant QP (only with `settings.qp` set); takes effect with the next frame,
    /// without a keyframe.
    pub fn set_qp(&mut self, qp: u8) -> Result<(), EncodeError> {
        if self.settings.qp.is_none() || self.settings.qp == Some(qp) {
            return Ok(());
        }
        let mut p = *self.params;
        p.sSpatialLayers[0].iDLayerQp = c_int::from(qp.min(51));
        self.option(ENCODER_OPTION_SVC_ENCODE_PARAM_EXT, &mut p)?;
        *self.params = p;
        self.settings.qp = Some(qp);
        Ok(())
    }

    /// Whether the next frames look for a scrolled region (on when made). Off saves 3–8 ms of a
    /// 1080p frame; say so when only a small part of the picture changed
    /// ([`scroll_detection_for`]). Not remembered here: OpenH264 may make its context anew
    /// (a change of settings that needs it), which turns the detection on again, so callers set
    /// it before each frame (a store in OpenH264, no more).
    pub fn set_scroll_detection(&mut self, on: bool) -> Result<(), EncodeError> {
        let mut v = c_int::from(on);
        self.option(LOTSE_ENCODER_OPTION_SCROLL_DETECTION, &mut v)
    }

    /// Encodes one picture, appending the Annex-B bytes to `out`. With `keyframe` the frame
    /// decodes on its own.
    pub fn encode(
        &mut self,
        pic: &Yuv420,
        keyframe: bool,
        out: &mut Vec<u8>,
    ) -> Result<Encoded, EncodeError> {
        if (pic.width(), pic.height()) != (self.width, self.height) {
            return Err(EncodeError::Mismatch {
                got_w: pic.width(),
                got_h: pic.height(),
                want_w: self.width,
                want_h: self.height,
            });
        }
        if keyframe {
            let force = self.vtbl.ForceIntraFrame.ok_or(EncodeError::Create)?;
            // SAFETY: valid, initialised encoder.
            unsafe { force(self.enc, true) };
        }
        use openh264::formats::YUVSource;
        let src = pic.source();
        let (sy, su, sv) = src.strides_i32();
        let picture = SSourcePicture {
            iColorFormat: videoFormatI420 as c_int,
            iStride: [sy, su, sv, 0],
            // OpenH264 only reads the source planes; the API is not const-correct.
            pData: [
                src.y().as_ptr().cast_mut(),
                src.u().as_ptr().cast_mut(),
                src.v().as_ptr().cast_mut(),
                null_mut(),
            ],
            iPicWidth: self.width as c_int,
            iPicHeight: self.height as c_int,
            // Milliseconds; only used by OpenH264's rate control to see time pass.
            uiTimeStamp: (self.frame_no as f64 * 1000.0 / f64::from(self.settings.fps)) as i64,
            bPsnrY: false,
            bPsnrU: false,
            bPsnrV: false,
        };
        self.frame_no += 1;
        let encode = self.vtbl.EncodeFrame.ok_or(EncodeError::Create)?;
        // SAFETY: valid encoder; `picture` points at planes that outlive the call; `info` is a
        // valid out-struct that OpenH264 fills with pointers into its own buffers, which stay
        // valid until the next call.
        let rc = unsafe { encode(self.enc, &picture, &mut *self.info) };
        if rc != 0 {
            return Err(EncodeError::Encode(i64::from(rc)));
        }
        let info = &*self.info;
        let kind = match info.eFrameType {
            t if t == videoFrameTypeIDR || t == videoFrameTypeI => FrameKind::Key,
            t if t == videoFrameTypeP || t == videoFrameTypeIPMixed => FrameKind::Delta,
            t if t == videoFrameTypeSkip || t == videoFrameTypeInvalid => FrameKind::Skipped,
            _ => FrameKind::Skipped,
        };
        let before = out.len();
        if kind != FrameKind::Skipped {
            for layer in &info.sLayerInfo[..info.iLayerNum.clamp(0, 128) as usize] {
                let mut total = 0usize;
                for n in 0..layer.iNalCount.max(0) as usize {
                    // SAFETY: OpenH264 reports iNalCount lengths in pNalLengthInByte.
                    total += unsafe { *layer.pNalLengthInByte.add(n) }.max(0) as usize;
                }
                if total > 0 {
                    // SAFETY: the NAL units of a layer lie back to back in pBsBuf.
                    out.extend_from_slice(unsafe {
                        std::slice::from_raw_parts(layer.pBsBuf, total)
                    });
                }
            }
        }
        let bytes = out.len() - before;
        let kind = if bytes == 0 { FrameKind::Skipped } else { kind };
        Ok(Encoded {
            kind,
            bytes,
            qp: self.last_qp(),
        })
    }

    fn last_qp(&mut self) -> u32 {
        let Some(get) = self.vtbl.GetOption else {
            return 0;
        };
        // SAFETY: a plain C struct that GetOption fills.
        let mut stats: SEncoderStatistics = unsafe { std::mem::zeroed() };
        // SAFETY: valid encoder; `stats` has the type ENCODER_OPTION_GET_STATISTICS expects.
        let rc = unsafe {
            get(
                self.enc,
                ENCODER_OPTION_GET_STATISTICS,
                (&mut stats as *mut SEncoderStatistics).cast(),
            )
        };
        if rc == 0 { stats.uiAverageFrameQP } else { 0 }
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        // SAFETY: the encoder was created by WelsCreateSVCEncoder and is released exactly once.
        unsafe {
            if let Some(uninit) = self.vtbl.Uninitialize {
                uninit(self.enc);
            }
            self.api.WelsDestroySVCEncoder(self.enc);
        }
    }
}

fn clamp_bitrate(bps: u32) -> c_int {
    c_int::try_from(bps.clamp(64_000, 200_000_000)).unwrap_or(c_int::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Bgra, Decoder, psnr};

    /// Text-like stripes with a moving bar.
    fn picture(w: u32, h: u32, t: u32) -> Yuv420 {
        let mut d = vec![255u8; (w * h * 4) as usize];
        for y in 0..h {
            for x in 0..w {
                let ink = (y % 12 < 9) && (x * 7 + y * 3) % 11 < 4;
                let bar = (t * 8..t * 8 + 16).contains(&x);
                if ink || bar {
                    d[((y * w + x) * 4) as usize..][..3].copy_from_slice(&[20, 30, 40]);
                }
            }
        }
        Yuv420::from_bgra(&Bgra::packed(&d, w, h).unwrap())
    }

    #[test]
    fn keyframes_on_request_only_and_every_frame_decodes() {
        let mut enc = Encoder::new(160, 96, EncoderSettings::default()).unwrap();
        let mut dec = Decoder::new().unwrap();
        let mut kinds = Vec::new();
        for t in 0..8 {
            let mut out = Vec::new();
            let e = enc
                .encode(&picture(160, 96, t), t == 0 || t == 5, &mut out)
                .unwrap();
            assert_eq!(e.bytes, out.len());
            kinds.push(e.kind);
            let pic = dec.decode(&out).unwrap().expect("one picture per frame");
            let q = psnr(&picture(160, 96, t), &pic);
            assert!(q.avg > 38.0, "frame {t}: {q:?}");
        }
        use FrameKind::{Delta, Key};
        assert_eq!(kinds, [Key, Delta, Delta, Delta, Delta, Key, Delta, Delta]);
    }

    #[test]
    fn a_keyframe_decodes_in_a_fresh_decoder_and_qp_trades_size_for_quality() {
        let mut enc = Encoder::new(160, 96, EncoderSettings::default()).unwrap();
        let mut first = Vec::new();
        enc.encode(&picture(160, 96, 0), true, &mut first).unwrap();
        let mut sizes = Vec::new();
        for (i, qp) in [20u8, 36].into_iter().enumerate() {
            enc.set_qp(qp).unwrap();
            let mut out = Vec::new();
            let e = enc
                .encode(&picture(160, 96, 1 + i as u32), true, &mut out)
                .unwrap();
            assert_eq!(e.kind, FrameKind::Key);
            assert_eq!(e.qp, u32::from(qp));
            let mut fresh = Decoder::new().unwrap();
            let pic = fresh
                .decode(&out)
                .unwrap()
                .expect("a keyframe decodes alone");
            sizes.push((out.len(), psnr(&picture(160, 96, 1 + i as u32), &pic).avg));
        }
        assert!(
            sizes[0].0 > sizes[1].0,
            "QP 20 is larger than QP 36: {sizes:?}"
        );
        assert!(sizes[0].1 > sizes[1].1, "and sharper: {sizes:?}");
        // Changing the QP did not force a keyframe by itself.
        let mut out = Vec::new();
        enc.set_qp(26).unwrap();
        assert_eq!(
            enc.encode(&picture(160, 96, 4), false, &mut out)
                .unwrap()
                .kind,
            FrameKind::Delta
        );
    }

    /// The NAL unit types of an Annex-B stream, in order.
    fn nal_types(data: &[u8]) -> Vec<u8> {
        let mut types = Vec::new();
        let mut i = 0;
        while i + 3 < data.len() {
            if data[i..i + 3] == [0, 0, 1] {
                types.push(data[i + 3] & 0x1f);
                i += 3;
            } else {
                i += 1;
            }
        }
        types
    }

    fn slices(data: &[u8]) -> usize {
        nal_types(data)
            .iter()
            .filter(|&&t| t == 1 || t == 5)
            .count()
    }

    /// The planes without their strides' padding, as ffmpeg writes `rawvideo` `yuv420p`.
    fn packed(p: &Yuv420) -> Vec<u8> {
        let (w, h) = (p.width() as usize, p.height() as usize);
        let (sy, su, sv) = p.strides();
        let mut out = Vec::with_capacity(w * h * 3 / 2);
        for (plane, stride, pw, ph) in [
            (p.y(), sy, w, h),
            (p.u(), su, w / 2, h / 2),
            (p.v(), sv, w / 2, h / 2),
        ] {
            for row in 0..ph {
                out.extend_from_slice(&plane[row * stride..][..pw]);
            }
        }
        out
    }

    /// The pictures of an H.264 stream as ffmpeg (an independent decoder) decodes them.
    fn ffmpeg_decode(stream: &[u8]) -> Vec<u8> {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut child = Command::new("ffmpeg")
            .args(["-v", "error", "-f", "h264", "-i", "pipe:0"])
            .args(["-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("ffmpeg (scripts/deps.sh installs it)");
        let mut stdin = child.stdin.take().unwrap();
        let data = stream.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&data));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(out.status.success(), "ffmpeg failed: {out:?}");
        out.stdout
    }

    #[test]
    fn threads_encode_a_slice_each_which_an_independent_decoder_reads_alike() {
        let (w, h) = (320, 192);
        for threads in [1u16, 2, 4] {
            let settings = EncoderSettings {
                threads,
                ..EncoderSettings::default()
            };
            let mut enc = Encoder::new(w, h, settings).unwrap();
            let mut dec = Decoder::new().unwrap();
            let (mut stream, mut ours) = (Vec::new(), Vec::new());
            for t in 0..6 {
                let mut out = Vec::new();
                enc.encode(&picture(w, h, t), t == 0, &mut out).unwrap();
                assert_eq!(slices(&out), usize::from(threads), "frame {t}");
                let pic = dec.decode(&out).unwrap().expect("one picture per frame");
                let q = psnr(&picture(w, h, t), &pic);
                assert!(q.avg > 35.0, "{threads} threads, frame {t}: {q:?}");
                ours.extend(packed(&pic));
                stream.extend_from_slice(&out);
            }
            let theirs = ffmpeg_decode(&stream);
            assert_eq!(theirs.len(), ours.len(), "{threads} threads: six pictures");
            assert!(
                theirs == ours,
                "{threads} threads: ffmpeg's pictures differ"
            );
        }
    }

    #[test]
    fn pictures_too_small_for_slices_are_encoded_in_one() {
        // (width, height, OpenH264's rate control?, slices): OpenH264 makes pictures of at most
        // 48 macroblocks one slice itself; under its rate control it refuses slices on a picture
        // of few rows, and the encoder then falls back to one.
        for (w, h, rc, expected) in [
            (64, 16, false, 1),
            (512, 32, false, 4),
            (1024, 32, true, 1),
            (1024, 256, true, 4),
        ] {
            let settings = EncoderSettings {
                threads: 4,
                qp: if rc { None } else { Some(26) },
                ..EncoderSettings::default()
            };
            let mut enc = Encoder::new(w, h, settings).unwrap();
            let mut out = Vec::new();
            enc.encode(&picture(w, h, 0), true, &mut out).unwrap();
            assert_eq!(slices(&out), expected, "{w}×{h}, rate control {rc}");
            let pic = Decoder::new().unwrap().decode(&out).unwrap();
            assert!(pic.is_some(), "{w}×{h} decodes");
        }
    }

    #[test]
    fn half_the_cores_encode_from_four_on_at_most_four() {
        let threads: Vec<u16> = [0, 1, 2, 3, 4, 5, 6, 8, 12, 64]
            .into_iter()
            .map(threads_for_cores)
            .collect();
        assert_eq!(threads, [1, 1, 1, 1, 2, 2, 3, 4, 4, 4]);
    }

    /// `h` rows of an endless page of pseudo-random glyphs (seeded), from its row `top`.
    fn page(w: u32, h: u32, top: u32, seed: u64) -> Vec<u8> {
        let mut d = vec![255u8; (w * h * 4) as usize];
        for y in 0..h {
            let line = (top + y) / 16;
            for x in 0..w {
                let cell = u64::from(line) * 1_000_003 + u64::from(x / 9) + seed;
                let glyph = cell.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
                let (gx, gy) = ((x % 9) as u64, u64::from((top + y) % 16));
                if gy < 12 && gx < 7 && (glyph >> ((gx * 3 + gy) % 24)) & 1 == 1 {
                    d[((y * w + x) * 4) as usize..][..3].copy_from_slice(&[20, 30, 40]);
                }
            }
        }
        d
    }

    /// Seeded pseudo-random bytes (xorshift), like a video's noise to an encoder.
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = 0x2545_F491_4F6C_DD1D ^ seed;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        };
        (0..len).map(|_| next()).collect()
    }

    /// Lotse's OpenH264 patch (README.lotse.md, item 7): the switch reaches the encoder. Frames
    /// of noise, where the feature search does not help, switch that search off until a scroll
    /// is detected; a page scrolled after them thus costs far more without the detection.
    #[test]
    fn scroll_detection_can_be_switched_off_and_finds_a_scroll_when_on() {
        let (w, h) = (640u32, 480u32);
        let frames: Vec<Yuv420> = (0..16u32)
            .map(|i| {
                let d = if (1..7).contains(&i) {
                    noise((w * h * 4) as usize, u64::from(i))
                } else {
                    page(w, h, if i == 0 { 0 } else { (i - 7) * 24 }, 7)
                };
                Yuv420::from_bgra(&Bgra::packed(&d, w, h).unwrap())
            })
            .collect();
        let mut bytes = Vec::new();
        for on in [true, false] {
            let mut enc = Encoder::new(w, h, EncoderSettings::default()).unwrap();
            enc.set_scroll_detection(on).unwrap();
            let mut dec = Decoder::new().unwrap();
            let mut scrolled = 0;
            for (i, f) in frames.iter().enumerate() {
                let mut out = Vec::new();
                enc.encode(f, i == 0, &mut out).unwrap();
                let pic = dec.decode(&out).unwrap().expect("one picture per frame");
                assert!(psnr(f, &pic).avg > 30.0, "frame {i}");
                if i >= 8 {
                    scrolled += out.len();
                }
            }
            bytes.push(scrolled);
        }
        assert!(
            bytes[0] * 4 < bytes[1] * 3,
            "the detection makes the scrolled page cheaper: {bytes:?}"
        );
    }

    #[test]
    fn scroll_detection_from_a_quarter_of_the_rows() {
        assert!(!scroll_detection_for(0, 1080));
        assert!(!scroll_detection_for(18, 1080));
        assert!(!scroll_detection_for(269, 1080));
        assert!(scroll_detection_for(270, 1080));
        assert!(scroll_detection_for(1080, 1080));
        assert!(scroll_detection_for(u32::MAX, 1080));
    }

    #[test]
    fn wrong_sizes_are_errors_not_panics() {
        assert!(matches!(
            Encoder::new(15, 16, EncoderSettings::default()),
            Err(EncodeError::Size(15, 16))
        ));
        assert!(Encoder::new(4000, 2000, EncoderSettings::default()).is_err());
        let mut enc = Encoder::new(32, 32, EncoderSettings::default()).unwrap();
        let mut out = Vec::new();
        assert!(matches!(
            enc.encode(&Yuv420::new(64, 32), false, &mut out),
            Err(EncodeError::Mismatch { .. })
        ));
    }
}
