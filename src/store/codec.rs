//! The postcard value codec for heed tables.
//!
//! Every stored value is a serde type encoded with postcard; a value that does not decode is an
//! error the caller sees (`heed::Error::Decoding`), never a panic.

use std::borrow::Cow;
use std::marker::PhantomData;

use heed::{BoxedError, BytesDecode, BytesEncode};
use serde::{de::DeserializeOwned, Serialize};

/// heed codec that stores `T` as postcard bytes.
pub struct Postcard<T>(PhantomData<T>);

impl<'a, T: Serialize + 'a> BytesEncode<'a> for Postcard<T> {
    type EItem = T;

    fn bytes_encode(item: &'a T) -> Result<Cow<'a, [u8]>, BoxedError> {
        Ok(Cow::Owned(postcard::to_allocvec(item)?))
    }
}

impl<'a, T: DeserializeOwned + 'a> BytesDecode<'a> for Postcard<T> {
    type DItem = T;

    fn bytes_decode(bytes: &'a [u8]) -> Result<T, BoxedError> {
        Ok(postcard::from_bytes(bytes)?)
    }
}
