//! Opening an input file: sha256 of the bytes on disk while they are read,
//! decompression (gzip, zstd), and transcoding of UTF-16 to UTF-8.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::config::Encoding;
use crate::error::{Error, Result};

/// The sha256 and byte count of everything read through a [`HashingReader`].
#[derive(Clone, Default)]
pub struct HashHandle(Arc<Mutex<(Sha256, u64)>>);

impl HashHandle {
    /// Hex digest of the bytes read so far.
    pub fn hex(&self) -> String {
        let guard = self.0.lock().expect("hash lock poisoned");
        hex::encode(guard.0.clone().finalize())
    }
}

/// Hashes the raw bytes of a file as they stream past.
pub struct HashingReader<R> {
    inner: R,
    hash: HashHandle,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut g = self.hash.0.lock().expect("hash lock poisoned");
        g.0.update(&buf[..n]);
        g.1 += n as u64;
        Ok(n)
    }
}

/// Compression of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// An opened text input: a reader of decoded bytes (UTF-8, windows-1252 or latin-1 as
/// declared; UTF-16 is transcoded to UTF-8), and the handle to the file's hash.
pub struct OpenedInput {
    pub reader: Box<dyn Read + Send>,
    /// Completes the file's hash after reading.
    pub hash: HashFinisher,
    pub compression: Compression,
}

/// Completes the sha256 of a file once its reader is done with it.
pub struct HashFinisher {
    hash: HashHandle,
    raw: Arc<Mutex<Option<Box<dyn Read + Send>>>>,
}

/// Opens `path` for streaming, detecting compression from the extension and the magic
/// bytes. A `.gz`/`.zst` file whose bytes are not of that kind is an error.
pub fn open_text(path: &Path, encoding: Encoding) -> Result<OpenedInput> {
    let file = File::open(path).map_err(|e| Error::io("cannot open input file", path, e))?;
    let mut head = [0u8; 4];
    let n = peek(path, &mut head)?;
    let lower = path.to_string_lossy().to_ascii_lowercase();
    let by_ext = if lower.ends_with(".gz") {
        Some(Compression::Gzip)
    } else if lower.ends_with(".zst") || lower.ends_with(".zstd") {
        Some(Compression::Zstd)
    } else {
        None
    };
    let by_magic = if n >= 2 && head[..2] == GZIP_MAGIC {
        Compression::Gzip
    } else if n >= 4 && head == ZSTD_MAGIC {
        Compression::Zstd
    } else {
        Compression::None
    };
    if let Some(ext) = by_ext
        && ext != by_magic
    {
        return Err(Error::Input {
            path: path.to_path_buf(),
            message: format!(
                "the file name says {} but the file is not {} (it starts with bytes {}); re-export it or rename it",
                ext.as_str(),
                ext.as_str(),
                hex::encode(&head[..n])
            ),
        });
    }
    let compression = by_magic;
    let hash = HashHandle::default();
    let hashing = HashingReader {
        inner: file,
        hash: hash.clone(),
    };
    // The hashing reader is shared between the decoder (which reads through it) and
    // the final drain; a small adapter gives both access.
    let shared: Arc<Mutex<Option<Box<dyn Read + Send>>>> =
        Arc::new(Mutex::new(Some(Box::new(hashing))));
    let through = SharedReader(shared.clone());
    let decoded: Box<dyn Read + Send> = match compression {
        Compression::None => Box::new(BufReader::with_capacity(256 * 1024, through)),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            256 * 1024,
            through,
        ))),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::new(through)
                .map_err(|e| Error::io("cannot start zstd decoding of", path, e))?,
        ),
    };
    Ok(OpenedInput {
        reader: decoding_reader(decoded, encoding),
        hash: HashFinisher { hash, raw: shared },
        compression,
    })
}

/// The reader the record scanners read: UTF-16 is transcoded to UTF-8; the byte
/// encodings (UTF-8, windows-1252, latin-1) are decoded per field later.
pub fn decoding_reader<'a, R: Read + Send + 'a>(
    decoded: R,
    encoding: Encoding,
) -> Box<dyn Read + Send + 'a> {
    match encoding {
        Encoding::Utf16 => Box::new(Utf16ToUtf8::new(decoded)),
        _ => Box::new(decoded),
    }
}

impl HashFinisher {
    /// Reads whatever the decoder left of the raw file so that the hash covers it all.
    pub fn finish_hash(&self) -> io::Result<String> {
        let mut g = self.raw.lock().expect("reader lock poisoned");
        if let Some(r) = g.as_mut() {
            io::copy(r, &mut io::sink())?;
        }
        Ok(self.hash.hex())
    }
}

struct SharedReader(Arc<Mutex<Option<Box<dyn Read + Send>>>>);

impl Read for SharedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut g = self.0.lock().expect("reader lock poisoned");
        match g.as_mut() {
            Some(r) => r.read(buf),
            None => Ok(0),
        }
    }
}

fn peek(path: &Path, head: &mut [u8; 4]) -> Result<usize> {
    let mut f = File::open(path).map_err(|e| Error::io("cannot open input file", path, e))?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("cannot read input file", path, e)),
        }
    }
    Ok(n)
}

/// sha256 and size of a whole file (for Parquet inputs, which are read by random
/// access).
pub fn hash_file(path: &Path) -> Result<(String, u64)> {
    let mut h = Sha256::new();
    let total = read_through(path, |b| h.update(b))?;
    Ok((hex::encode(h.finalize()), total))
}

/// Reads a whole file in 1 MiB pieces, each passed to `f` (a hash); returns its size.
pub fn read_through(path: &Path, mut f: impl FnMut(&[u8])) -> Result<u64> {
    let mut file = File::open(path).map_err(|e| Error::io("cannot open input file", path, e))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| Error::io("cannot read input file", path, e))?;
        if n == 0 {
            break;
        }
        f(&buf[..n]);
        total += n as u64;
    }
    Ok(total)
}

/// Streams UTF-16 (byte-order mark decides LE/BE; LE without one) as UTF-8.
/// Unpaired surrogates become U+FFFD.
pub struct Utf16ToUtf8<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    inbuf: Vec<u8>,
    in_start: usize,
    in_end: usize,
    eof: bool,
    out: Vec<u8>,
    out_pos: usize,
}

impl<R: Read> Utf16ToUtf8<R> {
    pub fn new(inner: R) -> Self {
        Utf16ToUtf8 {
            inner,
            // BOM sniffing: FF FE is little-endian, FE FF big-endian (a decoder with
            // mere BOM removal would read a big-endian file as little-endian garbage).
            decoder: encoding_rs::UTF_16LE.new_decoder(),
            inbuf: vec![0; 64 * 1024],
            in_start: 0,
            in_end: 0,
            eof: false,
            out: Vec::with_capacity(3 * 64 * 1024 + 16),
            out_pos: 0,
        }
    }
}

impl<R: Read> Read for Utf16ToUtf8<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.out_pos < self.out.len() {
                let n = buf.len().min(self.out.len() - self.out_pos);
                buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
                self.out_pos += n;
                return Ok(n);
            }
            if self.eof && self.in_start == self.in_end {
                return Ok(0);
            }
            if self.in_start == self.in_end && !self.eof {
                let n = self.inner.read(&mut self.inbuf)?;
                self.in_start = 0;
                self.in_end = n;
                if n == 0 {
                    self.eof = true;
                }
            }
            self.out.clear();
            self.out_pos = 0;
            let cap = self
                .decoder
                .max_utf8_buffer_length(self.in_end - self.in_start)
                .unwrap_or(3 * 64 * 1024 + 16);
            self.out.resize(cap.max(16), 0);
            let (_, read, written, _) = self.decoder.decode_to_utf8(
                &self.inbuf[self.in_start..self.in_end],
                &mut self.out,
                self.eof,
            );
            self.in_start += read;
            self.out.truncate(written);
            if self.eof && self.in_start == self.in_end && written == 0 {
                return Ok(0);
            }
        }
    }
}

/// A display path for outputs: relative to `base` when possible.
pub fn display_path(path: &Path, base: &Path) -> String {
    let p: PathBuf = path
        .strip_prefix(base)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf());
    p.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcode(bytes: &[u8]) -> String {
        let mut out = String::new();
        decoding_reader(bytes, Encoding::Utf16)
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let units = bom.then_some(0xFEFF).into_iter().chain(text.encode_utf16());
        for u in units {
            out.extend(if big_endian {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            });
        }
        out
    }

    #[test]
    fn utf16_byte_order_comes_from_the_bom() {
        let text = "id,name\n1,Zoë 日本\n";
        assert_eq!(transcode(&utf16(text, false, true)), text);
        assert_eq!(transcode(&utf16(text, false, false)), text);
        // Regression (found by the csv fuzz target): a big-endian file was read as
        // little-endian garbage.
        assert_eq!(transcode(&utf16(text, true, true)), text);
    }
}
