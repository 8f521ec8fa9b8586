plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
}

android {
    namespace = "dev.mvedge.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "dev.mvedge.demo"
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        testInstrumentationRunner = "androidx.test.runner.AndroidJUnitRunner"
        ndk {
            // LiteRT and ExecuTorch ship native libraries for these ABIs; phones are arm64-v8a,
            // x86_64 is for the emulator.
            abiFilters += listOf("arm64-v8a", "x86_64")
        }
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    // Written by `mvedge bundle --app android`: models/ (artifacts, sidecars, index.json) and
    // samples/ under src/main/assets; contract vectors under src/androidTest/assets/contract.
    sourceSets {
        getByName("main").assets.srcDirs("src/main/assets")
        getByName("androidTest").assets.srcDirs("src/androidTest/assets")
    }

    androidResources {
        // Model files stay uncompressed in the APK, so they are copied out quickly (and could be mmapped).
        noCompress += listOf("tflite", "pte", "bin")
    }

    testOptions {
        unitTests.isReturnDefaultValues = true
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.appcompat)
    implementation(libs.androidx.activity.ktx)
    implementation(libs.androidx.exifinterface)
    implementation(libs.litert)
    implementation(libs.executorch.android)
    implementation(libs.soloader)
    implementation(libs.fbjni)

    testImplementation(libs.junit)
    testImplementation(libs.json)

    androidTestImplementation(libs.androidx.test.ext.junit)
    androidTestImplementation(libs.androidx.test.runner)
}
