"""Property-based fuzzing of the reader and validator (hypothesis); see fuzz/README.md."""
