// mvedge Android demo: LiteRT (.tflite) and ExecuTorch (.pte, XNNPACK) running models bundled by
// `mvedge bundle --app android`. Build steps and tool versions: README.md.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "mvedge-android-demo"
include(":app")
