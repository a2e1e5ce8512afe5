//! On Windows builds: the icon, the manifest (per-monitor DPI awareness v2, run as invoker) and
//! the version information go into the exe as resources (`assets/windows/`). Nothing on others.

fn main() {
    println!("cargo:rerun-if-changed=assets/windows");
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/windows");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let version = env!("CARGO_PKG_VERSION");
    let mut parts: Vec<u16> = version
        .split(['.', '-'])
        .take(3)
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    parts.resize(4, 0);
    let numeric = parts
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let path = |name: &str| dir.join(name).display().to_string().replace('\\', "/");
    let rc = format!(
        r#"#include <winver.h>
1 ICON "{icon}"
1 24 "{manifest}"
VS_VERSION_INFO VERSIONINFO
FILEVERSION {numeric}
PRODUCTVERSION {numeric}
FILEOS VOS_NT_WINDOWS32
FILETYPE VFT_APP
BEGIN
  BLOCK "StringFileInfo"
  BEGIN
    BLOCK "040904B0"
    BEGIN
      VALUE "CompanyName", "Lotse"
      VALUE "FileDescription", "Lotse remote support"
      VALUE "FileVersion", "{version}"
      VALUE "InternalName", "lotse"
      VALUE "LegalCopyright", "Apache-2.0"
      VALUE "OriginalFilename", "lotse.exe"
      VALUE "ProductName", "Lotse"
      VALUE "ProductVersion", "{version}"
    END
  END
  BLOCK "VarFileInfo"
  BEGIN
    VALUE "Translation", 0x409, 1200
  END
END
"#,
        icon = path("lotse.ico"),
        manifest = path("lotse.manifest"),
    );
    let rc_path = out.join("lotse.rc");
    std::fs::write(&rc_path, rc).expect("write lotse.rc");
    embed_resource::compile(&rc_path, embed_resource::NONE)
        .manifest_required()
        .expect("the Windows resources (icon, manifest, version) must be compiled");
}
