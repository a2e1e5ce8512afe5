//! A System V shared-memory segment for MIT-SHM, readable and writable by this user only.
//!
//! scrap creates its segment with mode 0777, so any local user could read the screen through it;
//! this one is created 0600 and marked for removal as soon as the X server has attached, so it
//! also disappears when this process dies.

use std::io;

/// An attached segment of `len` bytes.
#[derive(Debug)]
pub(crate) struct Segment {
    id: i32,
    addr: *mut u8,
    len: usize,
    removed: bool,
}

// SAFETY: the mapping is owned exclusively by this value; nothing else in the process aliases it.
unsafe impl Send for Segment {}

/// The mode of the segments this module creates.
pub(crate) const MODE: libc::c_int = 0o600;

impl Segment {
    pub(crate) fn new(len: usize) -> io::Result<Segment> {
        let len = len.max(4096);
        // SAFETY: plain system call; the result is checked.
        let id = unsafe { libc::shmget(libc::IPC_PRIVATE, len, libc::IPC_CREAT | MODE) };
        if id < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `id` is a segment we just created; a null address lets the kernel choose.
        let addr = unsafe { libc::shmat(id, std::ptr::null(), 0) };
        if addr as isize == -1 {
            let e = io::Error::last_os_error();
            // SAFETY: removing the segment we created.
            unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
            return Err(e);
        }
        Ok(Segment {
            id,
            addr: addr.cast(),
            len,
            removed: false,
        })
    }

    pub(crate) fn id(&self) -> i32 {
        self.id
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Marks the segment for removal once every process has detached (call it once the X server
    /// has attached: Linux still lets the server attach, but other systems may not).
    pub(crate) fn mark_removed(&mut self) {
        if !self.removed {
            // SAFETY: `id` is our segment.
            unsafe { libc::shmctl(self.id, libc::IPC_RMID, std::ptr::null_mut()) };
            self.removed = true;
        }
    }

    pub(crate) fn bytes(&self, len: usize) -> &[u8] {
        // SAFETY: the mapping is `self.len` bytes long and lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.addr, len.min(self.len)) }
    }

    pub(crate) fn bytes_mut(&mut self, len: usize) -> &mut [u8] {
        // SAFETY: as in `bytes`, and `&mut self` makes the borrow exclusive in this process.
        unsafe { std::slice::from_raw_parts_mut(self.addr, len.min(self.len)) }
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        self.mark_removed();
        // SAFETY: detaching our own attachment once.
        unsafe { libc::shmdt(self.addr.cast()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The segment's mode as the kernel reports it in /proc/sysvipc/shm.
    pub(crate) fn mode_of(id: i32) -> Option<u32> {
        let table = std::fs::read_to_string("/proc/sysvipc/shm").ok()?;
        table.lines().skip(1).find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(1)?.parse::<i32>().ok()? == id)
                .then(|| u32::from_str_radix(f.get(2)?, 8).ok())
                .flatten()
        })
    }

    #[test]
    fn segments_are_private_to_this_user_and_go_away() {
        let mut s = Segment::new(1 << 20).unwrap();
        let mode = mode_of(s.id()).expect("segment listed in /proc/sysvipc/shm");
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
        s.bytes_mut(4).copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(s.bytes(4), &[1, 2, 3, 4]);
        let id = s.id();
        drop(s);
        assert_eq!(mode_of(id), None, "segment left behind");
    }
}
