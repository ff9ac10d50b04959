// swift-tools-version:6.1
import PackageDescription

let package = Package(
  name: "sheaf",
  products: [
    .executable(name: "plan-sections", targets: ["plan-sections"]),
    .executable(name: "build-prompt", targets: ["build-prompt"]),
    .executable(name: "call-llm", targets: ["call-llm"]),
    .executable(name: "validate-format", targets: ["validate-format"]),
    .executable(name: "merge-doc", targets: ["merge-doc"]),
    .executable(name: "sheaf-run", targets: ["sheaf-run"]),
    .executable(name: "sheaf-serve", targets: ["sheaf-serve"]),
    .library(name: "SheafCore", targets: ["SheafCore"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    // The live page's server (sheaf-serve) only: no other tool links it.
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
  ],
  targets: [
    .systemLibrary(
      name: "CJansson", pkgConfig: "jansson",
      providers: [.apt(["libjansson-dev"])]),
    .systemLibrary(
      name: "CCurl", pkgConfig: "libcurl",
      providers: [.apt(["libcurl4-openssl-dev"])]),
    .systemLibrary(
      name: "CCmark", pkgConfig: "libcmark",
      providers: [.apt(["libcmark-dev"])]),
    // Layered: the JSON value, the contract and the filter plumbing at the bottom, one module per
    // tool above, so each binary links only what it uses (only call-llm links libcurl).
    .target(
      name: "SheafCore",
      dependencies: [
        "CJansson", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    // cmark's parsed document, owned (MarkdownDocument): what reads or renders Markdown uses it.
    .target(name: "SheafMarkdown", dependencies: ["CCmark"]),
    .target(name: "SheafValidate", dependencies: ["SheafCore", "SheafMarkdown"]),
    .target(
      name: "SheafPlan",
      dependencies: [
        "SheafCore", "SheafValidate", "SheafMarkdown", .product(name: "Yams", package: "Yams"),
      ]),
    .target(
      name: "SheafPrompt",
      dependencies: [
        "SheafCore", .product(name: "Mustache", package: "swift-mustache"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .target(name: "SheafMerge", dependencies: ["SheafCore", "SheafPrompt", "SheafMarkdown"]),
    .target(name: "SheafRun", dependencies: ["SheafPlan", "SheafPrompt", "SheafMarkdown"]),
    .executableTarget(name: "plan-sections", dependencies: ["SheafPlan"]),
    .executableTarget(name: "build-prompt", dependencies: ["SheafPrompt"]),
    // call-llm's engine and providers: the only code that links libcurl, so the
    // other tools start without loading them.
    // It judges answers with validate-format's rules to re-ask with feedback (SheafValidate).
    .target(name: "SheafLLM", dependencies: ["SheafCore", "SheafValidate", "CCurl"]),
    .executableTarget(name: "call-llm", dependencies: ["SheafLLM", "SheafPlan"]),
    .executableTarget(name: "validate-format", dependencies: ["SheafValidate", "SheafPlan"]),
    .executableTarget(name: "merge-doc", dependencies: ["SheafMerge"]),
    // The run-directory steps of staged runs (pipelines/sheaf.mk).
    .executableTarget(name: "sheaf-run", dependencies: ["SheafRun", "SheafPrompt"]),
    // The live page of a run (sheaf-run serve starts it): its own binary, so that the steps every
    // section runs through never load the server's libraries.
    .target(
      name: "SheafServe",
      dependencies: [
        "SheafRun", .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "HTTPTypes", package: "swift-http-types"),
      ]),
    .executableTarget(name: "sheaf-serve", dependencies: ["SheafServe"]),
    // Not a product: the benchmark's generator and the bare reader/writer pass-through.
    .executableTarget(name: "sheaf-bench", dependencies: ["SheafCore"]),
    .testTarget(
      name: "SheafCoreTests",
      dependencies: [
        "SheafCore", "SheafLLM", "SheafPlan", "SheafPrompt", "SheafValidate", "SheafMerge",
        "SheafRun",
      ], exclude: ["Fixtures"]),
    .testTarget(
      name: "CLITests",
      dependencies: [
        "SheafCore", "plan-sections", "build-prompt", "call-llm", "validate-format", "merge-doc",
        "sheaf-bench", "sheaf-run", "sheaf-serve",
      ],
      exclude: ["Cases"]),
  ]
)
