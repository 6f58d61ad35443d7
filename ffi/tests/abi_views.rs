//! The read-only admin views of the C ABI (`sdm_admin_inspect`,
//! `sdm_admin_versions`, `sdm_admin_keys`) on a SQLite file written by the
//! library: a compressed key decoded, its versions newest first, keys
//! paged, and the argument errors.

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use sdm::context::*;
use sdm::sdm_result::*;
use sdm::views::*;
use sdm_session::backend::{sqlite::SqliteBackend, Backend, DataVersion, SessionId, Write};
use serde_json::{json, Value as Json};

fn last_error() -> String {
    // SAFETY: never NULL.
    unsafe { CStr::from_ptr(sdm::sdm_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn take(p: *mut c_char) -> Json {
    assert!(!p.is_null(), "NULL string; last error: {}", last_error());
    // SAFETY: from the library, NUL-terminated.
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    // SAFETY: from the library.
    unsafe { sdm::sdm_string_free(p) };
    serde_json::from_str(&s).expect("JSON")
}

fn write_keys(path: &std::path::Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store = SqliteBackend::open(path).expect("open");
    let compressed = sdm_codec::compress(
        &sdm_codec::Value::from(json!({"Coins": 7})),
        &sdm_codec::Options::default(),
    )
    .expect("compress");
    let set = |value: String, metadata: &str| Write::Set {
        value,
        metadata: metadata.into(),
        user_ids: vec![9],
        data_version: DataVersion::default(),
    };
    rt.block_on(async {
        let id = SessionId::new("Players", None, "9");
        store
            .set(&id, &set("{\"Coins\":1}".into(), "{}"), None)
            .await
            .expect("write");
        let text = serde_json::to_string(&compressed).expect("JSON");
        let meta = r#"{"Compress":{"Level":2,"Decimals":3,"Safety":true}}"#;
        store.set(&id, &set(text, meta), None).await.expect("write");
        for i in 0..25 {
            let other = SessionId::new("Players", Some("eu"), format!("k{i:02}"));
            store
                .set(&other, &set("1".into(), "{}"), None)
                .await
                .expect("write");
        }
    });
}

#[test]
fn views_show_a_key_its_versions_and_the_keys_paged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("views.db");
    write_keys(&path);
    let url = CString::new(format!("sqlite://{}", path.display())).expect("no NUL");
    let mut ctx = ptr::null_mut();
    // SAFETY: valid arguments throughout; every string freed by `take`.
    unsafe {
        assert_eq!(sdm_context_new(url.as_ptr(), ptr::null(), &mut ctx), SDM_OK);
        let mut out = ptr::null_mut();
        assert_eq!(
            sdm_admin_inspect(
                ctx,
                c"Players".as_ptr(),
                ptr::null(),
                c"9".as_ptr(),
                &mut out
            ),
            SDM_OK,
            "{}",
            last_error()
        );
        let seen = take(out);
        assert_eq!(seen["exists"], true);
        assert_eq!(seen["value"], json!({"Coins": 7}));
        assert_eq!(seen["compressed"]["level"], 2);
        assert_eq!(seen["user_ids"], json!([9]));
        assert_eq!(seen["lock"], Json::Null);
        assert_eq!(
            (seen["queue_length"].clone(), seen["versions"].clone()),
            (json!(0), json!(1))
        );

        let mut out = ptr::null_mut();
        assert_eq!(
            sdm_admin_versions(
                ctx,
                c"Players".as_ptr(),
                ptr::null(),
                c"9".as_ptr(),
                0,
                0,
                0,
                &mut out
            ),
            SDM_OK
        );
        let listed = take(out);
        assert_eq!(listed["current"]["value"], json!({"Coins": 7}));
        assert_eq!(listed["versions"][0]["value"], json!({"Coins": 1}));
        assert_eq!(listed["versions"][0]["removed"], false);

        let mut cursor: Option<CString> = None;
        let mut all = Vec::new();
        let mut pages = 0;
        loop {
            let mut out = ptr::null_mut();
            let c = cursor.as_ref().map_or(ptr::null(), |c| c.as_ptr());
            assert_eq!(
                sdm_admin_keys(
                    ctx,
                    c"Players".as_ptr(),
                    c"eu".as_ptr(),
                    ptr::null(),
                    c,
                    10,
                    &mut out
                ),
                SDM_OK,
                "{}",
                last_error()
            );
            let page = take(out);
            pages += 1;
            for k in page["keys"].as_array().expect("keys") {
                all.push(k["key"].as_str().expect("key").to_owned());
            }
            match page["next"].as_str() {
                Some(next) => cursor = Some(CString::new(next).expect("no NUL")),
                None => break,
            }
        }
        assert_eq!(all.len(), 25);
        assert!(pages >= 3, "{pages} pages");

        let mut out = ptr::null_mut();
        assert_eq!(
            sdm_admin_inspect(ctx, ptr::null(), ptr::null(), c"9".as_ptr(), &mut out),
            SDM_NULL_ARGUMENT
        );
        assert!(out.is_null());
        assert_eq!(
            sdm_admin_keys(
                ptr::null_mut(),
                c"Players".as_ptr(),
                ptr::null(),
                ptr::null(),
                ptr::null(),
                0,
                &mut out
            ),
            SDM_NULL_ARGUMENT
        );
        sdm_context_free(ctx);
    }
}
