"""The picture of a retargeted character in Blender for docs/exports.md (docs/retarget_in_blender.png):
the character playing the estimate at one frame, and at every bone that carries the uncertainty a
translucent ball whose radius is that bone's std in that frame, read from the custom property
Blender's glTF importer made of the bone's `extras` (so the picture shows what an animator gets).

Runs inside Blender (Debian's 3.4 renders Workbench headless; where it asks for an OpenGL
context, run it under `xvfb-run -a`):

    diffpose retarget samples/studio_walk.json --character ../shared/assets/characters/human-female.glb \
        --out /tmp/hero_moving.glb
    blender -b --factory-startup --python docs/retarget_picture.py -- \
        /tmp/hero_moving.glb docs/retarget_in_blender.png 100
"""

import sys

import bpy
import numpy

# Blender 3.4's glTF importer uses numpy's old aliases, which Debian's numpy 1.24 no longer has
for name, alias in (("bool", bool), ("int", int), ("float", float), ("object", object)):
    if name not in vars(numpy):
        setattr(numpy, name, alias)

KEY = "diffpose_uncertainty_m"
glb_path, png_path, frame = sys.argv[sys.argv.index("--") + 1:]
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
scene.render.fps = 30
bpy.ops.import_scene.gltf(filepath=glb_path)
armature = next(o for o in scene.objects if o.type == "ARMATURE")
action = armature.animation_data.action
first = round(action.frame_range[0])
scene.frame_set(first + int(frame))

# a ball per bone that carries the uncertainty: radius = its std in this frame (the bone's
# custom property holds one value per frame, from the action's first frame on)
ball = bpy.data.materials.new("uncertainty")
ball.diffuse_color = (0.1, 0.55, 0.95, 0.4)
for bone in armature.pose.bones:
    if KEY not in bone:
        continue
    sigma = float(bone[KEY][int(frame)])
    if sigma <= 0:
        continue
    bpy.ops.mesh.primitive_uv_sphere_add(radius=sigma, location=armature.matrix_world @ bone.head)
    bpy.context.object.data.materials.append(ball)
    bpy.context.object.name = f"sigma {bone.name}"

# the hips: the first bone that carries the uncertainty (bones above it, such as a `root`, stay put)
hips_bone = next(b for b in armature.pose.bones if KEY in b)
hips = armature.matrix_world @ hips_bone.head
bpy.ops.mesh.primitive_plane_add(size=6.0, location=(hips.x, hips.y, 0.0))
bpy.ops.object.camera_add(location=(hips.x + 2.4, hips.y - 3.2, 1.5))
camera = scene.objects["Camera"]
camera.rotation_euler = (hips - camera.location).to_track_quat("-Z", "Y").to_euler()
camera.data.lens = 40
scene.camera = camera

scene.render.engine = "BLENDER_WORKBENCH"
shading = scene.display.shading
shading.light, shading.color_type = "STUDIO", "TEXTURE"
shading.show_shadows, shading.show_cavity = True, True
scene.render.resolution_x, scene.render.resolution_y = 640, 480
scene.render.image_settings.file_format = "PNG"
scene.render.image_settings.color_mode = "RGB"
scene.render.image_settings.compression = 100
scene.render.filepath = png_path
scene.world = bpy.data.worlds.new("world") if scene.world is None else scene.world
bpy.ops.render.render(write_still=True)
print("wrote", png_path, "at frame", scene.frame_current)
