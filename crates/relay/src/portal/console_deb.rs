//! The console's Debian package, preconfigured for this relay: the portal adds
//! `/etc/lotse/console.toml` (the relay's address and pin) to the package as a conffile, so the
//! installed console's login form has them filled in and the rep types only name, password and
//! code. The console reads that file from beside its own installation (`<exe>/../../../etc/…`).
//!
//! A `.deb` is an `ar` archive of `debian-binary`, `control.tar.gz` and `data.tar.gz`
//! (`scripts/package-deb console` builds it with gzip for this): the file is appended to the
//! data archive, its name to the control archive's `conffiles`, and the archive written anew.
//! The package's own files and their checksums (`md5sums`) are left as they are; dpkg records
//! a conffile's checksum itself when it installs it.

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use std::io::{Read, Write};

/// Where the configuration goes (as the data archive names it).
pub const CONFIG_PATH: &str = "./etc/lotse/console.toml";

/// Why a package could not be preconfigured (then it is served as it is).
#[derive(Debug, thiserror::Error)]
pub enum DebError {
    #[error("not a Debian package: {0}")]
    Format(&'static str),
    #[error("the package's {0} is not gzip-compressed (scripts/package-deb builds it so)")]
    Compression(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// One member of the `ar` archive.
struct Member {
    name: String,
    /// The header's other fields, kept as they were (mtime, uid, gid, mode).
    meta: [u8; 32],
    data: Vec<u8>,
}

fn parse_ar(deb: &[u8]) -> Result<Vec<Member>, DebError> {
    let mut rest = deb
        .strip_prefix(b"!<arch>\n")
        .ok_or(DebError::Format("no ar magic"))?;
    let mut members = Vec::new();
    while !rest.is_empty() {
        if rest.len() < 60 || &rest[58..60] != b"`\n" {
            return Err(DebError::Format("a broken member header"));
        }
        let name = String::from_utf8_lossy(&rest[..16])
            .trim_end()
            .trim_end_matches('/')
            .to_owned();
        let mut meta = [0u8; 32];
        meta.copy_from_slice(&rest[16..48]);
        let size: usize = std::str::from_utf8(&rest[48..58])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or(DebError::Format("a member size"))?;
        let data = rest
            .get(60..60 + size)
            .ok_or(DebError::Format("a member longer than the file"))?
            .to_vec();
        let next = (60 + size + (size & 1)).min(rest.len());
        rest = &rest[next..];
        members.push(Member { name, meta, data });
        if members.len() > 8 {
            return Err(DebError::Format("too many members"));
        }
    }
    Ok(members)
}

fn write_ar(members: &[Member]) -> Vec<u8> {
    let mut out = b"!<arch>\n".to_vec();
    for m in members {
        out.extend_from_slice(format!("{:<16}", m.name).as_bytes());
        out.extend_from_slice(&m.meta);
        out.extend_from_slice(format!("{:<10}", m.data.len()).as_bytes());
        out.extend_from_slice(b"`\n");
        out.extend_from_slice(&m.data);
        if m.data.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}

/// Most bytes a member may unpack to (a console package is some 20 MB).
const MAX_UNPACKED: u64 = 512 << 20;

fn gunzip(data: &[u8], what: &str) -> Result<Vec<u8>, DebError> {
    if !data.starts_with(&[0x1f, 0x8b]) {
        return Err(DebError::Compression(what.to_owned()));
    }
    let mut out = Vec::new();
    GzDecoder::new(data)
        .take(MAX_UNPACKED)
        .read_to_end(&mut out)?;
    Ok(out)
}

fn gzip(data: &[u8]) -> Result<Vec<u8>, DebError> {
    let mut e = GzEncoder::new(Vec::new(), Compression::new(6));
    e.write_all(data)?;
    Ok(e.finish()?)
}

/// The archive `tar` without its end (the zero blocks after the last entry), and the contents
/// of the entry named `want`, if there is one.
fn open_tar(tar: &[u8], want: &str) -> Result<(usize, Option<Vec<u8>>), DebError> {
    let mut archive = tar::Archive::new(tar);
    let mut end = 0usize;
    let mut found = None;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let start = usize::try_from(entry.raw_file_position())
            .map_err(|_| DebError::Format("an entry beyond memory"))?;
        let size = usize::try_from(entry.size()).map_err(|_| DebError::Format("an entry size"))?;
        end = start + size.div_ceil(512) * 512;
        if entry.path()?.to_string_lossy() == want {
            let mut data = Vec::new();
            entry.read_to_end(&mut data)?;
            found = Some(data);
        }
    }
    Ok((end, found))
}

/// `tar` (cut at `end`) with `entries` (path, mode, contents; a `None` content is a directory)
/// appended, and a proper end.
fn append(
    tar: &[u8],
    end: usize,
    entries: &[(&str, u32, Option<&[u8]>)],
) -> Result<Vec<u8>, DebError> {
    let mut b = tar::Builder::new(tar[..end].to_vec());
    for (path, mode, data) in entries {
        let mut h = tar::Header::new_gnu();
        // The name as dpkg-deb writes them (`./etc/…`): set raw, since the tar crate would
        // drop the leading `./`.
        let name = path.as_bytes();
        let gnu = h.as_gnu_mut().ok_or(DebError::Format("a GNU tar header"))?;
        if name.len() >= gnu.name.len() {
            return Err(DebError::Format("a name too long for a tar header"));
        }
        gnu.name[..name.len()].copy_from_slice(name);
        h.set_mode(*mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_username("root")?;
        h.set_groupname("root")?;
        match data {
            Some(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(d.len() as u64);
                h.set_cksum();
                b.append(&h, *d)?;
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_cksum();
                b.append(&h, std::io::empty())?;
            }
        }
    }
    Ok(b.into_inner()?)
}

/// The console's configuration for this relay, as the installed console reads it.
pub fn config_text(relay: &str, pin: &str) -> String {
    format!(
        "# Put here by the support portal of this relay: the console's login form starts with\n\
         # these. Your own settings (~/.config/lotse/console.toml) come first.\n\
         relay = {relay:?}\npin = {pin:?}\n"
    )
}

/// `deb` with `/etc/lotse/console.toml` naming `relay` and `pin`.
pub fn personalise(deb: &[u8], relay: &str, pin: &str) -> Result<Vec<u8>, DebError> {
    let mut members = parse_ar(deb)?;
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    if names.first() != Some(&"debian-binary") || members.len() != 3 {
        return Err(DebError::Format("not debian-binary, control and data"));
    }
    // The data: the configuration file, with its directories.
    let data_tar = gunzip(&members[2].data, &members[2].name)?;
    let (end, existing) = open_tar(&data_tar, CONFIG_PATH)?;
    if existing.is_some() {
        return Err(DebError::Format(
            "the package has a configuration of its own",
        ));
    }
    let config = config_text(relay, pin);
    let data_tar = append(
        &data_tar,
        end,
        &[
            ("./etc/", 0o755, None),
            ("./etc/lotse/", 0o755, None),
            (CONFIG_PATH, 0o644, Some(config.as_bytes())),
        ],
    )?;
    // The control: the configuration is a conffile (dpkg keeps a changed one at upgrades).
    let control_tar = gunzip(&members[1].data, &members[1].name)?;
    let (end, conffiles) = open_tar(&control_tar, "./conffiles")?;
    let had_conffiles = conffiles.is_some();
    let mut list = conffiles.unwrap_or_default();
    if !list.is_empty() && !list.ends_with(b"\n") {
        list.push(b'\n');
    }
    list.extend_from_slice(b"/etc/lotse/console.toml\n");
    let control_tar = if had_conffiles {
        // Rebuild the control archive with the longer list in place of the old one.
        let mut b = tar::Builder::new(Vec::new());
        let mut archive = tar::Archive::new(&control_tar[..]);
        for entry in archive.entries()? {
            let mut entry = entry?;
            let mut h = entry.header().clone();
            let path = entry.path()?.into_owned();
            let mut body = Vec::new();
            entry.read_to_end(&mut body)?;
            if path.to_string_lossy() == "./conffiles" {
                body = list.clone();
                h.set_size(body.len() as u64);
                h.set_cksum();
            }
            // The header as it was (its raw name kept), with the new size where it changed.
            b.append(&h, &body[..])?;
        }
        b.into_inner()?
    } else {
        append(&control_tar, end, &[("./conffiles", 0o644, Some(&list))])?
    };
    members[1].data = gzip(&control_tar)?;
    members[2].data = gzip(&data_tar)?;
    Ok(write_ar(&members))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn run(cmd: &mut Command) -> Vec<u8> {
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// A small package built by dpkg-deb, as scripts/package-deb builds the console's.
    fn package(dir: &std::path::Path, conffile: bool) -> Vec<u8> {
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::write(
            root.join("DEBIAN/control"),
            "Package: lotse-test\nVersion: 1.0\nArchitecture: all\nMaintainer: x <x@example.org>\n\
             Description: test\n test package\n",
        )
        .unwrap();
        std::fs::write(root.join("usr/bin/lotse-test"), "#!/bin/sh\necho hi\n").unwrap();
        if conffile {
            std::fs::create_dir_all(root.join("etc/lotse-test")).unwrap();
            std::fs::write(root.join("etc/lotse-test/a.conf"), "a = 1\n").unwrap();
            std::fs::write(root.join("DEBIAN/conffiles"), "/etc/lotse-test/a.conf\n").unwrap();
        }
        let deb = dir.join("t.deb");
        run(Command::new("dpkg-deb")
            .args(["--root-owner-group", "-Zgzip", "--build"])
            .arg(&root)
            .arg(&deb));
        std::fs::read(&deb).unwrap()
    }

    #[test]
    fn the_configuration_is_a_conffile_that_dpkg_installs() {
        for conffile in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let deb = package(dir.path(), conffile);
            let out = personalise(&deb, "support.example.org:4433", "sha256//abc=").unwrap();
            let path = dir.path().join("p.deb");
            std::fs::write(&path, &out).unwrap();
            // dpkg-deb reads it, lists the file, and its conffiles name it.
            let listing =
                String::from_utf8(run(Command::new("dpkg-deb").arg("-c").arg(&path))).unwrap();
            assert!(listing.contains("./etc/lotse/console.toml"), "{listing}");
            let conffiles = String::from_utf8(run(Command::new("dpkg-deb")
                .args(["-I"])
                .arg(&path)
                .arg("conffiles")))
            .unwrap();
            assert!(conffiles.contains("/etc/lotse/console.toml"), "{conffiles}");
            if conffile {
                assert!(conffiles.contains("/etc/lotse-test/a.conf"), "{conffiles}");
            }
            // Installed into a root of its own.
            let root = dir.path().join("installed");
            std::fs::create_dir_all(root.join("var/lib/dpkg/info")).unwrap();
            std::fs::create_dir_all(root.join("var/lib/dpkg/updates")).unwrap();
            std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
            run(Command::new("dpkg")
                .arg(format!("--root={}", root.display()))
                .args([
                    "--log=/dev/null",
                    "--force-script-chrootless",
                    "--force-not-root",
                    "-i",
                ])
                .arg(&path));
            let installed = std::fs::read_to_string(root.join("etc/lotse/console.toml")).unwrap();
            assert_eq!(
                installed,
                config_text("support.example.org:4433", "sha256//abc=")
            );
            assert!(root.join("usr/bin/lotse-test").exists());
            // Twice is refused (the package has one already): served as it is then.
            assert!(personalise(&out, "x:1", "y").is_err());
        }
    }

    #[test]
    fn what_is_not_a_gzip_package_is_refused() {
        assert!(matches!(
            personalise(b"not a package", "r:1", "p"),
            Err(DebError::Format(_))
        ));
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
        std::fs::write(
            root.join("DEBIAN/control"),
            "Package: t\nVersion: 1\nArchitecture: all\nMaintainer: x <x@example.org>\n\
             Description: t\n t\n",
        )
        .unwrap();
        let deb = dir.path().join("t.deb");
        run(Command::new("dpkg-deb")
            .args(["--root-owner-group", "-Zxz", "--build"])
            .arg(&root)
            .arg(&deb));
        assert!(matches!(
            personalise(&std::fs::read(&deb).unwrap(), "r:1", "p"),
            Err(DebError::Compression(_))
        ));
        // A truncated package.
        let good = package(dir.path(), false);
        assert!(personalise(&good[..good.len() / 2], "r:1", "p").is_err());
    }
}
