//! Real node-ipc peers for tests (being written).
