//! OpenH264 is only fast with its hand-written assembly, which openh264-sys2 assembles with nasm.
//! Without nasm it silently falls back to C and encodes 2–3× slower, so this build script refuses
//! to continue on x86 without nasm unless `LOTSE_ALLOW_NO_NASM=1` says that is meant (then it
//! warns). Installing nasm later does not rebuild openh264-sys2: `cargo clean -p openh264-sys2`.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=LOTSE_ALLOW_NO_NASM");
    println!("cargo:rerun-if-env-changed=PATH");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if arch != "x86_64" && arch != "x86" {
        return; // OpenH264's assembly for other architectures is not built with nasm.
    }
    let found = Command::new("nasm")
        .arg("-v")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    match found {
        Some(version) => println!("cargo:rustc-env=LOTSE_NASM_VERSION={version}"),
        None => {
            let text = "nasm was not found: OpenH264 was built without its assembly and encodes \
                        2-3x slower. Install it (Debian/Ubuntu: apt-get install nasm), then run \
                        `cargo clean -p openh264-sys2` and build again. To build anyway, set \
                        LOTSE_ALLOW_NO_NASM=1.";
            if std::env::var("LOTSE_ALLOW_NO_NASM").is_ok_and(|v| v == "1") {
                println!("cargo:warning={text}");
                println!("cargo:rustc-env=LOTSE_NASM_VERSION=none");
            } else {
                panic!("{text}");
            }
        }
    }
}
