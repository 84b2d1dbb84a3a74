use super::*;
use serde_json::json;

#[test]
fn defaults_are_the_study_final_model() {
    let p = HyperParams::default();
    assert_eq!(p.hidden_widths(), vec![256, 512, 512]);
    assert_eq!(p.parameter_count(19, 6), 402_438);
}

#[test]
fn four_hidden_layers_build_the_same_net_as_three() {
    let mut p = HyperParams::default();
    p.set("num_hidden_layers", &json!(3)).unwrap();
    let three = p.hidden_widths();
    p.set("num_hidden_layers", &json!(4)).unwrap();
    assert_eq!(three, p.hidden_widths());
    assert_eq!(three, vec![256, 512, 512, 1024]);
}

#[test]
fn the_effective_form_leaves_out_layers_that_are_not_built() {
    let with = |kv: &[(&str, Value)]| {
        let mut p = HyperParams::default();
        for (k, v) in kv {
            p.set(k, v).unwrap();
        }
        p
    };
    // Two hidden layers beyond the first: neurons_4 is not built.
    let a = with(&[("num_hidden_layers", json!(2)), ("neurons_4", json!(64))]);
    let b = with(&[("num_hidden_layers", json!(2)), ("neurons_4", json!(128))]);
    assert_ne!(a.canonical_json(), b.canonical_json());
    assert_eq!(a.effective_json(), b.effective_json());
    // 3 and 4 build the same net.
    let c = with(&[("num_hidden_layers", json!(3))]);
    let d = with(&[("num_hidden_layers", json!(4))]);
    assert_eq!(c.effective_json(), d.effective_json());
    // What is built still tells them apart.
    let e = with(&[("num_hidden_layers", json!(3)), ("neurons_4", json!(128))]);
    assert_ne!(c.effective_json(), e.effective_json());
    assert!(!with(&[("num_hidden_layers", json!(0))])
        .effective()
        .contains_key("neurons_2"));
}

#[test]
fn names_are_case_insensitive_and_canonicalised() {
    let mut a = HyperParams::default();
    a.set("optimizer", &json!("Adam")).unwrap();
    a.set("activation", &json!("leakyrelu")).unwrap();
    let mut b = HyperParams::default();
    b.set_assignment("optimizer=adam").unwrap();
    b.set_assignment("activation=LeakyReLU").unwrap();
    b.set_assignment("dropout=0.40").unwrap();
    assert_eq!(a.canonical_json(), b.canonical_json());
}

#[test]
fn notebook_protocol_leaves_out_what_it_does_not_use() {
    let obj = |s: &str| serde_json::from_str::<Map<String, Value>>(s).unwrap();
    let nb = HyperParams::from_object(&obj(r#"{"protocol": "Notebook", "dropout": 0.3}"#)).unwrap();
    assert_eq!(nb.protocol, Protocol::Notebook);
    assert_eq!(nb.callback_monitor(), Monitor::ValLoss);
    assert_eq!(nb.effective_weight_constraint(), None);
    let c = nb.canonical();
    assert_eq!(c.get("protocol"), Some(&json!("notebook")));
    for k in NOT_UNDER_NOTEBOOK {
        assert!(!c.contains_key(k), "{k} in {c:?}");
    }
    // The canonical form reads back as the same configuration.
    let back =
        HyperParams::from_object(&c.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
            .unwrap();
    assert_eq!(back.canonical_json(), nb.canonical_json());
    // The default protocol is not in the canonical form: earlier ids are unchanged.
    assert!(!HyperParams::default().canonical().contains_key("protocol"));
    // Contradictions are refused whatever the key order; harmless values pass.
    for bad in [
        r#"{"weight_constraint": 3, "protocol": "notebook"}"#,
        r#"{"protocol": "notebook", "monitor": "loss"}"#,
        r#"{"inner_validation": 0.2, "protocol": "notebook"}"#,
    ] {
        let msg = HyperParams::from_object(&obj(bad)).unwrap_err().to_string();
        assert!(
            msg.contains("does not apply under protocol notebook"),
            "{msg}"
        );
    }
    assert!(HyperParams::from_object(&obj(
        r#"{"protocol": "notebook", "weight_constraint": null}"#
    ))
    .is_ok());
    assert!(HyperParams::from_object(&obj(
        r#"{"protocol": "gridsearchcv", "monitor": "val_loss"}"#
    ))
    .is_ok());
    let msg = HyperParams::default()
        .set("protocol", &json!("keras"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("gridsearchcv, notebook"), "{msg}");
}

#[test]
fn unknown_keys_suggest_the_nearest() {
    let e = HyperParams::default()
        .set("dropuot", &json!(0.2))
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("did you mean `dropout`"), "{msg}");
    assert!(msg.contains("accepted:"), "{msg}");
}

#[test]
fn bad_values_say_what_is_accepted() {
    let mut p = HyperParams::default();
    let msg = p.set("dropout", &json!(1.0)).unwrap_err().to_string();
    assert!(msg.contains("[0, 1)"), "{msg}");
    let msg = p
        .set("optimizer", &json!("adagrad"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("adam, nadam, sgd, rmsprop, adamw"), "{msg}");
    let msg = p.set("batch_size", &json!(0)).unwrap_err().to_string();
    assert!(msg.contains("integer"), "{msg}");
    assert!(p.set("epochs", &json!(2.5)).is_err());
    assert!(p.set_assignment("epochs").is_err());
    p.set("weight_constraint", &json!(0)).unwrap();
    assert_eq!(p.weight_constraint, None);
}
