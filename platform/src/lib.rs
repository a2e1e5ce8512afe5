//! Platform layer (capture, injection) — filled by the screen and input work.
