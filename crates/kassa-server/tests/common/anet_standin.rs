//! An Authorize.net stand-in for the server-level processor tests (see processors_authorize_net.rs).
