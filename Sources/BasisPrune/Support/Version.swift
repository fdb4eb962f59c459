/// The version of the library and the command (`onnx-basisprune --version`), semantic
/// versioning; CHANGELOG.md says what each changed.
public let basisPruneVersion = "0.18.0"
