//! Settlement pages.
